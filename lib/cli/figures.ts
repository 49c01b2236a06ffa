// `lmkernel figures results.jsonl [...] --out DIR`: Figure 1 (kernel vs fine-tuning per task, prompt vs
// standard), Figure 2 (pre-trained / linearized / fine-tuned per task), Figure 3 (LoRA vs full kernel),
// Figure 4 (χ) as SVG + PNG (+ the vega-lite spec), and the kernel-distance / Linearization tables as
// Markdown and CSV, for whatever the given lines allow. Files are written atomically.
import { LmkError } from '../errors.js';
import { writeFigures } from '../figures/index.js';
import { readResultFiles } from '../experiments/results.js';
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
    const scale = checkNumber(a.scale, '--scale', { min: 0, exclusiveMin: true, max: 8 });
    const lines = readResultFiles(a._, 'figures');
    const res = await writeFigures(lines, a.out, { scale });
    for (const s of res.skipped) console.error(`figures: skipped ${s}`);
    if (res.files.length === 0) throw new LmkError(`figures: nothing to draw from ${a._.join(', ')}`);
    for (const f of res.files) console.log(f);
    return 0;
  },
});

export const run = command.run;
