#!/usr/bin/env node
// Seed corpora for the libFuzzer targets (scripts/fuzz-safetensors): small valid safetensors files made
// from the tiny fixture's header (names and dtypes kept, every dimension cut to at most 2, offsets
// recomputed), the real header itself, and hand-made defects (overlap, out of bounds, bad dtype, ...).
// Usage: node scripts/fuzz-seeds.mjs <fixtures dir: test/fixtures> <out dir>   (writes <out>/safetensors, <out>/json)
import { mkdirSync, readFileSync, openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [fixturesDir, outDir] = process.argv.slice(2);
if (!fixturesDir || !outDir) {
  console.error('usage: node scripts/fuzz-seeds.mjs <fixtures dir> <out dir>');
  process.exit(2);
}
const stDir = join(outDir, 'safetensors');
const jsDir = join(outDir, 'json');
mkdirSync(stDir, { recursive: true });
mkdirSync(jsDir, { recursive: true });

function headerOf(path) {
  const fd = openSync(path, 'r');
  const len = Buffer.alloc(8);
  readSync(fd, len, 0, 8, 0);
  const n = Number(len.readBigUInt64LE(0));
  const h = Buffer.alloc(n);
  readSync(fd, h, 0, n, 8);
  closeSync(fd);
  return h.toString('utf8');
}
const ES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
function shrink(header, maxEntries) {
  const out = {};
  let off = 0;
  for (const [name, e] of Object.entries(header).slice(0, maxEntries)) {
    if (name === '__metadata__') {
      out[name] = e;
      continue;
    }
    const shape = e.shape.map((d) => Math.min(d, 2));
    const bytes = shape.reduce((a, b) => a * b, 1) * ES[e.dtype];
    out[name] = { dtype: e.dtype, shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  return { header: out, dataSize: off };
}
const file = (json, dataSize) => {
  const h = Buffer.from(json);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.alloc(dataSize)]);
};
let n = 0;
// mode byte: even = whole file follows; odd = header JSON follows, data section (byte >> 1) * 64 bytes
const seedFile = (buf) => writeFileSync(join(stDir, `seed-${n++}`), Buffer.concat([Buffer.from([0]), buf]));
const seedHeader = (json, dataSize) =>
  writeFileSync(
    join(stDir, `seed-${n++}`),
    Buffer.concat([Buffer.from([(Math.min(127, Math.ceil(dataSize / 64)) << 1) | 1]), Buffer.from(json)]),
  );

for (const f of ['tiny-roberta.safetensors', 'tiny-bert.safetensors']) {
  const text = headerOf(join(fixturesDir, f));
  const header = JSON.parse(text);
  writeFileSync(join(jsDir, `${f}.header.json`), text);
  seedHeader(text, 0); // the real header: offsets out of bounds of a small data section
  for (const k of [1, 3, 8, 40]) {
    const { header: h, dataSize } = shrink(header, k);
    const json = JSON.stringify(h);
    seedFile(file(json, dataSize));
    if (dataSize <= 127 * 64) seedHeader(json, dataSize);
    writeFileSync(join(jsDir, `${f}.shrunk${k}.json`), json);
  }
}
const defects = [
  '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
  '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
  '{"a":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}}',
  '{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}',
  '{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}',
  '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999]}}',
  '{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}',
  '{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}',
  '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
  '{"a\\u00e9\\ud83d\\ude00":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}',
  '[1, 2.5e3, -0, true, false, null, "x\\n"]',
  '{"a":' + '['.repeat(70) + ']'.repeat(70) + '}',
];
for (const d of defects) {
  seedHeader(d, 64);
  writeFileSync(join(jsDir, `defect-${n++}.json`), d);
}
seedFile(Buffer.from('PK\x03\x04 not a safetensors file', 'latin1'));
seedFile(Buffer.alloc(5));
const fx = JSON.parse(readFileSync(join(fixturesDir, 'fixtures-a.json'), 'utf8'));
writeFileSync(join(jsDir, 'config-roberta.json'), JSON.stringify(fx.roberta.config, null, 2));
writeFileSync(join(jsDir, 'config-bert.json'), JSON.stringify(fx.bert.config));
console.log(`seeds: ${n} safetensors/defect seeds under ${outDir}`);
