// `lmkernel report results.jsonl [...]`: the paper's Table 2 (rows = tasks, columns = methods, cells = test
// mean (std) x100 over seeds with the best dev setting per seed), printed as Markdown and optionally
// written as Markdown and CSV (atomically).
import { LmkError } from '../errors.js';
import { readResultFiles, renderCsv, renderMarkdown, reportTable } from '../experiments/index.js';
import { finetuneSelections, renderFinetuneSelections } from '../experiments/reportFinetune.js';
import { writeFileAtomic } from '../io.js';
import { defineCommand } from './command.js';

const command = defineCommand({
  name: 'report',
  synopsis: 'RESULTS.jsonl [more.jsonl ...] [--out-md table.md] [--out-csv table.csv]',
  positionals: true,
  spec: {
    'out-md': { type: 'string', help: 'write the Markdown table here' },
    'out-csv': { type: 'string', help: 'write the CSV table here (per method: mean, std x100 and number of seeds)' },
    task: { type: 'list', help: 'only these tasks' },
    k: { type: 'number', help: 'only this k' },
  },
  run: async (a) => {
    let lines = readResultFiles<{ task?: unknown; k?: unknown }>(a._, 'report');
    if (a.task) {
      const want = a.task.map((t) => t.toLowerCase());
      lines = lines.filter((l) => want.includes(String(l.task).toLowerCase()));
    }
    if (a.k !== undefined) lines = lines.filter((l) => l.k === a.k);
    if (lines.length === 0)
      throw new LmkError(`report: no result lines in ${a._.join(', ')}${a.task || a.k !== undefined ? ' after filtering' : ''}`);
    const table = reportTable(lines);
    const ft = renderFinetuneSelections(finetuneSelections(lines));
    const md = renderMarkdown(table) + (ft ? '\n' + ft : '');
    process.stdout.write(md);
    if (a['out-md']) writeFileAtomic(a['out-md'], md);
    if (a['out-csv']) writeFileAtomic(a['out-csv'], renderCsv(table));
    return 0;
  },
});

export const run = command.run;
