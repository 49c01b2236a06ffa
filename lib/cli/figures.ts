// `lmkernel figures results.jsonl [...] --out DIR`: Figure 1 (kernel vs fine-tuning per task, prompt vs
// standard), Figure 2 (pre-trained / linearized / fine-tuned per task), Figure 3 (LoRA vs full kernel),
// Figure 4 (χ) as SVG + PNG (+ the vega-lite spec), and the kernel-distance / Linearization tables as
// Markdown and CSV, for whatever the given lines allow. Files are written atomically.
import { existsSync } from 'node:fs';
import { InputError, LmkError } from '../errors.js';
import { writeFigures } from '../figures/index.js';
import { readResultLines } from '../experiments/results.js';
import { checkNumber } from '../validate.js';
import { defineCommand } from './command.js';

export const command = defineCommand({
  name: 'figures',
  synopsis: 'RESULTS.jsonl [behaviour.jsonl ...] [--out DIR]',
  positionals: true,
  spec: {
    out: { type: 'string', help: 'output folder', default: 'figures' },
    scale: { type: 'number', help: 'PNG pixels per SVG unit', default: 2 },
  },
  async run(a) {
    if (a._.length === 0) throw new LmkError('figures: give at least one results .jsonl file');
    for (const p of a._) if (!existsSync(p)) throw new InputError(p, 'results file not found');
    const scale = checkNumber(a.scale, '--scale', { min: 0, exclusiveMin: true, max: 8 });
    const lines = a._.flatMap((p) => readResultLines(p));
    const res = await writeFigures(lines, a.out, { scale });
    for (const s of res.skipped) console.error(`figures: skipped ${s}`);
    if (res.files.length === 0) throw new LmkError(`figures: nothing to draw from ${a._.join(', ')}`);
    for (const f of res.files) console.log(f);
    return 0;
  },
});

export const run = command.run;
