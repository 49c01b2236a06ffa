// Figures and tables from result lines: SVG text (titles, labels), PNG bytes (signature, IHDR size),
// Markdown/CSV tables, the font metrics used for layout, and the `figures` CLI. The lines are synthetic
// (kernel-runner and finetune-run line shapes) so that the expected numbers are known.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { figure1Data, figure2Data, fontFile, renderSvg, figure1Spec, svgToPng, writeFigures } from '../lib/figures/index.js';
import { textWidth } from '../lib/figures/fontMetrics.js';
import { behaviourTable } from '../lib/behaviour/tables.js';
import { run as figuresCli } from '../lib/cli/figures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'lmk-fig-'));

function kernelLine(task: string, mode: string, seed: number, test: number) {
  return {
    config_id: `k-${task}-${mode}-${seed}`,
    task,
    k: 16,
    seed,
    model: 'm',
    model_id: 'id',
    mode,
    formula: 'sgd',
    solver: 'lstsq',
    binary: false,
    subset: 'all',
    metric: 'acc',
    dev_score: 0.5,
    test_score: test,
    params: {},
  };
}
function ftLine(
  task: string,
  mode: string,
  seed: number,
  test: number,
  beh: { pre: number; lin: number; kd: number } | null,
  status = 'done',
) {
  return {
    config_id: `f-${task}-${mode}-${seed}-${status}`,
    method: 'finetune',
    status,
    task,
    k: 16,
    seed,
    model: 'm',
    model_id: 'id',
    mode,
    formula: 'sgd',
    solver: 'ft',
    binary: false,
    subset: 'all',
    metric: 'acc',
    dev_score: status === 'done' ? 0.6 : null,
    test_score: status === 'done' ? test : null,
    params: { lr: 1e-3, batch_size: 8 },
    behaviour: beh && {
      pre_test: { acc: beh.pre },
      linearized_test: { acc: beh.lin },
      ft_test: { acc: test },
      pre_test_score: beh.pre,
      linearized_test_score: beh.lin,
      ft_test_score: test,
      share_recovered: (beh.lin - beh.pre) / (test - beh.pre),
      share_recovered_acc: (beh.lin - beh.pre) / (test - beh.pre),
      kernel_distance_train_train: beh.kd,
      kernel_distance_train_test: beh.kd * 1.1,
    },
  };
}

const LINES = [
  kernelLine('SST-2', 'prompt', 13, 0.88),
  kernelLine('SST-2', 'prompt', 42, 0.9),
  kernelLine('MR', 'prompt', 13, 0.8),
  kernelLine('SST-2', 'standard', 13, 0.7),
  ftLine('SST-2', 'prompt', 13, 0.9, { pre: 0.8, lin: 0.85, kd: 0.05 }),
  ftLine('SST-2', 'prompt', 42, 0.92, { pre: 0.8, lin: 0.86, kd: 0.07 }),
  ftLine('MR', 'prompt', 13, 0.84, { pre: 0.7, lin: 0.77, kd: 0.1 }),
  ftLine('SST-2', 'standard', 13, 0.75, null),
  ftLine('SST-2', 'prompt', 87, 0.1, null, 'aborted'),
  {
    kind: 'chi',
    task: 'SST-2',
    k: 16,
    seed: 42,
    split: 'train',
    model: 'roberta-tiny',
    model_id: 'x',
    mode: 'prompt',
    n: 32,
    num_outputs: 2,
    mean_abs_chi: 0.48,
    std_abs_chi: 0.27,
    mean_abs_chi_label: 0.48,
    accuracy: 0.53,
  },
  {
    kind: 'lora-vs-full',
    task: 'SST-2',
    k: 16,
    seed: 42,
    model: 'roberta-tiny',
    mode: 'prompt',
    init: 'gaussian',
    alpha: 16,
    n_examples: 8,
    by_rank: [
      { r: 1, mean: 0.85, std: 0.4, n: 3 },
      { r: 4, mean: 0.5, std: 0.16, n: 3 },
      { r: 16, mean: 0.3, std: 0.2, n: 3 },
    ],
    points: [],
  },
];

function pngSize(b: Buffer): { width: number; height: number } {
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(b.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('figure data', () => {
  it('Figure 1: per task and mode, zero-shot, kernel and FT columns with mean ± std over seeds; aborted lines ignored', () => {
    const d = figure1Data(LINES);
    const sst = d.filter((x) => x.task === 'SST-2' && x.output === 'prompt');
    expect(sst.map((x) => [x.method, x.kind]).sort()).toEqual([
      ['FT sgd', 'fine-tuning'],
      ['kernel sgd (lstsq)', 'kernel'],
      ['zero-shot (pre-trained)', 'zero-shot'],
    ]);
    // zero-shot = the pre-trained test score of the behaviour lines: 0.8 on seeds 13 and 42
    const zs = sst.find((x) => x.kind === 'zero-shot')!;
    expect([zs.mean, zs.std, zs.n]).toEqual([80, 0, 2]);
    expect(d.find((x) => x.task === 'MR' && x.kind === 'zero-shot')!.mean).toBeCloseTo(70, 12);
    // the spec draws zero-shot first, then kernels, then fine-tuning
    const order = (figure1Spec(d) as unknown as { spec: { layer: { encoding: { color: { sort: string[] } } }[] } }).spec.layer[0]
      .encoding.color.sort;
    expect(order).toEqual(['zero-shot (pre-trained)', 'kernel sgd (lstsq)', 'FT sgd']);
    const ft = sst.find((x) => x.kind === 'fine-tuning')!;
    expect(ft.mean).toBeCloseTo(91, 10);
    expect(ft.std).toBeCloseTo(1, 10);
    expect(ft.n).toBe(2); // seed 87 was aborted
    expect(d.filter((x) => x.output === 'standard')).toHaveLength(2);
  });

  it('Figure 2 and the tables: pre / linearized / FT from behaviour lines', () => {
    const rows = behaviourTable(LINES);
    expect(rows.map((r) => r.task)).toEqual(['MR', 'SST-2']);
    const sst = rows[1];
    expect(sst.pre.mean).toBeCloseTo(0.8, 12);
    expect(sst.linearized.mean).toBeCloseTo(0.855, 12);
    expect(sst.ft.mean).toBeCloseTo(0.91, 12);
    expect(sst.shareRecovered.mean).toBeCloseTo((0.5 + 0.06 / 0.12) / 2, 12);
    expect(sst.kernelDistanceTrainTrain.mean).toBeCloseTo(0.06, 12);
    const d = figure2Data(rows);
    expect(d).toHaveLength(6);
    expect(d.filter((x) => x.task === 'SST-2').map((x) => x.model)).toEqual(['pre-trained', 'linearized', 'fine-tuned']);
  });
});

describe('rendering', () => {
  it('SVG with the titles and labels; PNG with the PNG signature and plausible dimensions', async () => {
    const svg = await renderSvg(figure1Spec(figure1Data(LINES)));
    expect(svg.startsWith('<svg')).toBe(true);
    for (const s of [
      'Figure 1: kernel vs fine-tuning',
      'prompt',
      'standard',
      'SST-2',
      'MR',
      'FT sgd',
      'kernel sgd (lstsq)',
      'test score (x100)',
    ])
      expect(svg, s).toContain(s);
    const png = svgToPng(svg, 2);
    const { width, height } = pngSize(png);
    const w = Number(/width="(\d+(\.\d+)?)"/.exec(svg)![1]);
    const h = Number(/height="(\d+(\.\d+)?)"/.exec(svg)![1]);
    expect(width).toBe(Math.round(2 * w));
    expect(height).toBe(Math.round(2 * h));
    expect(width).toBeGreaterThan(400);
    expect(width).toBeLessThan(3000);
    expect(height).toBeGreaterThan(300);
    expect(png.length).toBeGreaterThan(10_000); // text and bars, not a blank page
  });

  it("text widths come from the font file (vega's estimate is 0.8 em per character)", () => {
    const f = fontFile();
    const w = textWidth('kernel vs fine-tuning', 12, false, f);
    expect(w).toBeGreaterThan(0.4 * 12 * 21);
    expect(w).toBeLessThan(0.7 * 12 * 21);
    expect(textWidth('iiii', 12, false, f)).toBeLessThan(textWidth('WWWW', 12, false, f));
  });

  it('writeFigures: every figure and table the lines allow', async () => {
    const dir = tmp();
    const res = await writeFigures(LINES, dir);
    const names = res.files.map((p) => p.slice(dir.length + 1)).sort();
    expect(names).toEqual(
      [
        'figure1-kernel-vs-ft.png',
        'figure1-kernel-vs-ft.svg',
        'figure1-kernel-vs-ft.vl.json',
        'figure2-linearization.png',
        'figure2-linearization.svg',
        'figure2-linearization.vl.json',
        'figure3-lora-vs-full.png',
        'figure3-lora-vs-full.svg',
        'figure3-lora-vs-full.vl.json',
        'figure4-chi.png',
        'figure4-chi.svg',
        'figure4-chi.vl.json',
        'table-behaviour.csv',
        'table-chi.csv',
        'table-chi.md',
        'table-kernel-distance.md',
        'table-linearization.md',
        'table-lora-vs-full.md',
      ].sort(),
    );
    expect(res.skipped).toEqual([]);
    const f2 = readFileSync(join(dir, 'figure2-linearization.svg'), 'utf8');
    for (const s of ['Figure 2: pre-trained, linearized and fine-tuned', 'pre-trained', 'linearized', 'fine-tuned', 'SST-2'])
      expect(f2, s).toContain(s);
    expect(readFileSync(join(dir, 'figure3-lora-vs-full.svg'), 'utf8')).toContain('LoRA rank r');
    for (const n of ['figure1-kernel-vs-ft', 'figure2-linearization', 'figure3-lora-vs-full', 'figure4-chi'])
      pngSize(readFileSync(join(dir, `${n}.png`)));
    const kd = readFileSync(join(dir, 'table-kernel-distance.md'), 'utf8');
    expect(kd).toMatch(/\| SST-2 \| 16 \| prompt\/sgd\/ft \| sgd \| 0\.0600 \(0\.010\) \| 0\.0660 \(0\.011\) \| 2 \|/);
    const lin = readFileSync(join(dir, 'table-linearization.md'), 'utf8');
    expect(lin).toMatch(
      /\| SST-2 \(acc\) \| 16 \| prompt\/sgd\/ft \| 80\.0 \(0\.0\) \| 85\.5 \(0\.5\) \| 91\.0 \(1\.0\) \| 50 \(0\) \| 2 \|/,
    );
    // no temporary files left behind
    expect(readFileSync(join(dir, 'table-behaviour.csv'), 'utf8').split('\n')).toHaveLength(4);
  });

  it('kernel lines only: figure 1, and figure 2 is skipped with a reason', async () => {
    const res = await writeFigures(LINES.slice(0, 4), tmp());
    expect(res.files.some((f) => f.endsWith('figure1-kernel-vs-ft.png'))).toBe(true);
    expect(res.skipped.join(' ')).toMatch(/figure 2 .*finetune-run --behaviour/);
  });
});

describe('figures CLI', () => {
  it('writes the files; missing inputs and undrawable lines are errors', async () => {
    const dir = tmp();
    const p = join(dir, 'r.jsonl');
    writeFileSync(p, LINES.map((l) => JSON.stringify(l)).join('\n') + '\n');
    expect(await figuresCli([p, '--out', join(dir, 'fig')])).toBe(0);
    expect(existsSync(join(dir, 'fig', 'figure1-kernel-vs-ft.png'))).toBe(true);
    await expect(figuresCli([join(dir, 'nope.jsonl')])).rejects.toThrow(/results file not found/);
    await expect(figuresCli([])).rejects.toThrow(/at least one/);
    const empty = join(dir, 'e.jsonl');
    writeFileSync(empty, JSON.stringify(LINES[8]) + '\n');
    await expect(figuresCli([empty, '--out', join(dir, 'fig2')])).rejects.toThrow(/nothing to draw/);
  });
});
