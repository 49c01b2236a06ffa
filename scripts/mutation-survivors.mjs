#!/usr/bin/env node
// Merges Stryker JSON reports (and scripts/mutate-static.mjs results) per mutant, prints each file's scores,
// and writes its surviving mutants into docs/mutation-ts-survivors.md (docs/mutation.md).
//
//   node scripts/mutation-survivors.mjs [--doc docs/mutation-ts-survivors.md] REPORT.json [STATIC.json] ...
//
// Later files win: a mutant (file, location, mutator, replacement) takes the status of the last report that
// holds it. A mutate-static.mjs result (`results`: Killed / Survived) replaces the status of its static
// mutant. Score = (killed + timeout) / (killed + timeout + survived + no coverage); compile errors and
// static mutants left unchecked (Ignored) are not counted. With --doc, the sections of the files in the
// reports are replaced (or added, in path order); the sections of other files are kept as they are.
import { readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
let doc;
if (args[0] === '--doc') {
  doc = args[1];
  args.splice(0, 2);
}
if (args.length === 0) {
  console.error('usage: node scripts/mutation-survivors.mjs [--doc FILE.md] REPORT.json [STATIC.json] ...');
  process.exit(2);
}

const key = (file, m) =>
  `${file}:${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column}:${m.mutatorName}:${m.replacement}`;
const merged = new Map(); // file -> Map(key -> mutant)
const sources = new Map(); // file -> its source lines
for (const path of args) {
  const r = JSON.parse(readFileSync(path, 'utf8'));
  if (Array.isArray(r.results)) {
    for (const m of r.results) {
      const hit = merged.get(m.file)?.get(key(m.file, m));
      if (hit) hit.status = m.status;
    }
    continue;
  }
  for (const [file, entry] of Object.entries(r.files)) {
    if (!merged.has(file)) merged.set(file, new Map());
    sources.set(file, entry.source.split('\n'));
    for (const m of entry.mutants) merged.get(file).set(key(file, m), { ...m });
  }
}

const rows = [];
const sections = new Map();
for (const file of [...merged.keys()].sort()) {
  const ms = [...merged.get(file).values()];
  const count = (...s) => ms.filter((m) => s.includes(m.status)).length;
  const killed = count('Killed', 'Timeout');
  const survived = count('Survived');
  const noCover = count('NoCoverage');
  const all = killed + survived + noCover;
  const pct = (a, b) => (b === 0 ? '—' : `${((100 * a) / b).toFixed(1)} %`);
  rows.push({
    file,
    killed,
    survived,
    noCover,
    line: `| ${file} | ${killed} | ${survived} | ${noCover} | ${pct(killed, all)} | ${pct(killed, killed + survived)} |`,
  });
  const alive = ms
    .filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')
    .sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column);
  const lines = alive.map((m) => {
    const code = (sources.get(file)[m.location.start.line - 1] ?? '').trim().slice(0, 100);
    const status = m.status === 'Survived' ? 'survived' : 'no-cover';
    return `${m.location.start.line}:${m.location.start.column} ${status} ${m.mutatorName} ${JSON.stringify(m.replacement.slice(0, 60))} | ${code}`;
  });
  sections.set(file, `## ${file} (${alive.length})\n\n\`\`\`text\n${lines.join('\n')}\n\`\`\`\n`);
}

console.log('| file | killed (+ timeout) | survived | no coverage | score | score of covered code |');
console.log('| ---- | ------------------ | -------- | ----------- | ----- | --------------------- |');
for (const r of rows) console.log(r.line);
const t = rows.reduce((a, r) => ({ k: a.k + r.killed, s: a.s + r.survived, n: a.n + r.noCover }), { k: 0, s: 0, n: 0 });
console.log(
  `| **all ${rows.length}** | **${t.k}** | **${t.s}** | **${t.n}** | **${((100 * t.k) / (t.k + t.s + t.n)).toFixed(1)} %** | **${((100 * t.k) / (t.k + t.s)).toFixed(1)} %** |`,
);

if (doc) {
  // the document: a head, then one "## file (n)" section per file
  const text = readFileSync(doc, 'utf8');
  const parts = text.split(/^(?=## )/m);
  const head = parts[0];
  const old = new Map(parts.slice(1).map((p) => [/^## (\S+)/.exec(p)[1], p.replace(/\n*$/, '\n')]));
  for (const [file, s] of sections) old.set(file, s);
  const body = [...old.keys()]
    .sort()
    .map((f) => old.get(f))
    .join('\n');
  writeFileSync(doc, `${head.replace(/\n*$/, '\n\n')}${body}`);
  console.log(`${doc}: ${sections.size} section(s) written`);
}
