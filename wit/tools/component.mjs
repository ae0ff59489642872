// component.mjs -- makes and checks the deltavec component with jco's JS API
// (scripts/build-component.sh runs it; wit/test imports checkWit).
//
//   node wit/tools/component.mjs build WIT_DIR CORE.wasm OUT_DIR
//       embeds WIT_DIR/*.wit (world `deltavec`) into the core module, makes the
//       component, prints its WIT, transpiles it to OUT_DIR/js/ and checks it
//   node wit/tools/component.mjs check WIT_DIR COMPONENT.wasm
//       checks that the component's interface is exactly the WIT's
//
// The check: (1) the world jco prints from the component exports exactly the
// interfaces the source world exports; (2) the TypeScript declarations jco
// generates from the component equal those it generates from a reference
// component made from the source WIT alone (a "dummy" core module), file by
// file: every type, function, resource and doc comment matches.
import { componentEmbed, componentNew, componentWit, transpile } from '@bytecodealliance/jco';
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export const WORLD = 'deltavec';

/** The WIT source of the package: every .wit file of dir, in name order. */
export function witSource(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.wit')).sort();
  if (files.length !== 1) throw new Error(`expected one .wit file in ${dir}, found ${files.length}`);
  return readFileSync(path.join(dir, files[0]), 'utf8');
}

/** The interfaces a world exports, as `ns:pkg/iface@version`, from WIT text. */
export function worldExports(wit, world) {
  const pkg = /^\s*package\s+([^;\s]+)\s*;/m.exec(wit);
  const body = new RegExp(`world\\s+${world}\\s*\\{([^}]*)\\}`).exec(wit);
  if (!body) throw new Error(`world ${world} not found`);
  const [ns, rest] = pkg ? pkg[1].split(':') : ['', ''];
  const [name, version] = rest.split('@');
  return [...body[1].matchAll(/^\s*export\s+([^;]+);/gm)].map((m) => {
    const e = m[1].trim();
    return e.includes(':') ? e : `${ns}:${name}/${e}@${version}`;
  });
}

async function declarations(component) {
  const { files } = await transpile(component, { name: WORLD, noTypescript: false, quiet: true });
  const out = {};
  for (const [f, bytes] of Object.entries(files)) if (f.endsWith('.d.ts')) out[f] = Buffer.from(bytes).toString('utf8');
  return out;
}

/** Throws unless the component's interface is exactly the WIT's. Returns the printed WIT. */
export async function checkWit(witDir, component) {
  const wit = witSource(witDir);
  const printed = await componentWit(component);
  const want = worldExports(wit, WORLD).join('\n');
  const got = [...printed.matchAll(/^\s*export\s+([^;]+);/gm)].map((m) => m[1].trim()).join('\n');
  if (got !== want) throw new Error(`component exports differ from the WIT world:\n${got}\n--- expected ---\n${want}`);
  const reference = await componentNew(await componentEmbed({ dummy: true, witSource: wit, world: WORLD }));
  const [a, b] = await Promise.all([declarations(component), declarations(reference)]);
  const names = Object.keys(b).sort();
  if (Object.keys(a).sort().join() !== names.join()) throw new Error('declaration files differ');
  for (const f of names) if (a[f] !== b[f]) throw new Error(`${f}: the component's interface differs from the WIT`);
  return printed;
}

// jco's glue asks WebAssembly.Memory for its buffer (a slow getter) at every access and
// copies each list argument through two new typed-array views (one of the argument, one of
// the memory); making a view costs about as much as the copy of a small delta. On a call
// that applies one small delta that was a quarter of the call (wit/bench/overhead.mjs).
// Three edits of jco 1.12.0's output (pinned in package.json; the build fails if the text
// is not there) keep one DataView and one Uint8Array of the memory instead, replaced when
// a memory.grow detaches their buffer (its byteLength becomes 0), and copy a Uint8Array
// argument as it is. Nothing else in the glue changes. DV_JCO_GLUE=plain keeps jco's glue as
// it is (to measure the difference).
const DATA_VIEW = 'const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);';
const LIST_COPY = /\(new Uint8Array\(memory0\.buffer, (ptr\d+), [^)]*\)\)\.set\((src\d+)\);/g;
const BYTES_VIEW = /var (src\d+) = new Uint8Array\((val\d+)\.buffer \|\| \2, \2\.byteOffset, (len\d+) \* 1\);/g;
export function leanGlue(js) {
  if (!js.includes(DATA_VIEW) || !js.match(LIST_COPY) || !js.match(BYTES_VIEW)) {
    throw new Error('jco glue: the memory accesses to cache are not where expected (another jco version?)');
  }
  return js
    .replace(DATA_VIEW, 'const dataView = mem => dv.buffer.byteLength !== 0 ? dv : dv = new DataView(mem.buffer);\n' +
      'let memoryBytes = new Uint8Array(0);\n' +
      'const memory0Bytes = () => memoryBytes.byteLength !== 0 ? memoryBytes : memoryBytes = new Uint8Array(memory0.buffer);')
    .replace(LIST_COPY, 'memory0Bytes().set($2, $1);')
    .replace(BYTES_VIEW, 'var $1 = $2 instanceof Uint8Array ? $2 : new Uint8Array($2.buffer || $2, $2.byteOffset, $3 * 1);');
}

async function build(witDir, corePath, outDir) {
  const wit = witSource(witDir);
  const embedded = await componentEmbed({ binary: readFileSync(corePath), witSource: wit, world: WORLD });
  const component = await componentNew(embedded);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'deltavec.core.wasm'), embedded);
  writeFileSync(path.join(outDir, 'deltavec.component.wasm'), component);
  writeFileSync(path.join(outDir, 'deltavec.printed.wit'), await checkWit(witDir, component));
  const jsDir = path.join(outDir, 'js');
  rmSync(jsDir, { recursive: true, force: true });
  const { files } = await transpile(component, { name: WORLD, quiet: true });
  for (const [f, bytes] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(jsDir, f)), { recursive: true });
    const edit = f === `${WORLD}.js` && process.env.DV_JCO_GLUE !== 'plain';
    writeFileSync(path.join(jsDir, f), edit ? leanGlue(Buffer.from(bytes).toString('utf8')) : bytes);
  }
  writeFileSync(path.join(jsDir, 'package.json'), '{ "type": "module" }\n');
  console.log(`component: ${component.length} bytes, core module ${embedded.length} bytes; WIT checked; ${Object.keys(files).length} files in ${jsDir}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'build' && args.length === 3) await build(...args);
  else if (cmd === 'check' && args.length === 2) console.log(await checkWit(args[0], readFileSync(args[1])));
  else {
    console.error('usage: component.mjs build WIT_DIR CORE.wasm OUT_DIR | check WIT_DIR COMPONENT.wasm');
    process.exit(2);
  }
}
