// Where the tests find the built modules, the native tool and the shared test vectors.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const jsRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const buildDir = process.env.DVW_BUILD || path.resolve(jsRoot, '../build-wasm');
export const tool = path.join(buildDir, 'dvw_vectors');
export const vectorsDir = path.join(buildDir, 'vectors');
export const haveTool = existsSync(tool);
