// The fixed workload of wasm/tools/dvw_vectors.c, op for op (see the comment there).
export const defaultConfig = { dim: 32, metric: 0, M: 8, efConstruction: 64, efSearch: 32, seed: 42, ops: 3000 };

export function runWorkload(db, ops = 3000, dim = 32, after) {
  let state = 0x5eed >>> 0;
  const rnd = () => {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1) >>> 0;
    t = (t ^ (t + Math.imul(t ^ (t >>> 7), t | 61))) >>> 0;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const rval = () => Math.fround((rnd() >>> 8) / 8388608 - 1);
  const live = [];
  let counter = 0;
  const v = new Float32Array(dim);
  for (let op = 0; op < ops; op++) {
    const r = rnd() % 100;
    if (live.length < 8 || r < 55) {
      const id = `v${counter}`;
      for (let i = 0; i < dim; i++) v[i] = rval();
      db.insert(id, v, counter % 5 === 0 ? { tag: `t${counter % 7}` } : undefined);
      live.push(id);
      counter++;
    } else if (r < 75) {
      const id = live[rnd() % live.length];
      for (let i = 0; i < dim; i++) v[i] = rval();
      db.update(id, v);
    } else if (r < 90) {
      const id = live[rnd() % live.length];
      const d0 = rnd() % (dim - 2);
      const vals = new Float32Array(3);
      for (let i = 0; i < 3; i++) vals[i] = rval();
      db.updateSparse(id, new Uint32Array([d0, d0 + 1, d0 + 2]), vals);
    } else if (r < 97) {
      const i = rnd() % live.length;
      db.delete(live[i]);
      live[i] = live[live.length - 1];
      live.pop();
    } else {
      const id = live[rnd() % live.length];
      db.setMeta(id, 'tag', `m${op}`);
    }
    if (after) after(op);
  }
  return live;
}
