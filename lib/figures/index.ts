// Figures from results.jsonl lines: vega-lite specs, rendered headless to SVG with vega (`View.toSVG`, no
// canvas: text widths are estimated) and to PNG with @resvg/resvg-js (prebuilt binary; fonts: DejaVu Sans
// when a system copy is found, else resvg's system font loading — install `fonts-dejavu-core` on Debian).
//
// Figure 1: kernel vs fine-tuning test score per task, prompt vs standard (one panel per output; bars = the
//           report's columns, mean ± std over seeds with the best dev line per seed, as `lmkernel report`).
// Figure 2: pre-trained / linearized / fine-tuned test score per task (fine-tuning lines with behaviour).
// Figure 3: LoRA vs full kernel relative difference against the rank (lora-vs-full lines), when present.
// Figure 4: mean |χ| per model (chi lines), when present.
// Tables:   kernel-distance (Fixed Features) and Linearization tables as Markdown and CSV.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../io.js';
import { textWidth } from './fontMetrics.js';
import { FONT, figure1Data, figure1Spec, figure2Data, figure2Spec, figure3Spec, figure4Spec } from './specs.js';

export * from './specs.js';
import {
  behaviourTable,
  renderBehaviourCsv,
  renderChiCsv,
  renderChiMarkdown,
  renderFixedFeaturesMarkdown,
  renderLinearizationMarkdown,
  renderLoraMarkdown,
  type ChiLine,
  type LoraLine,
} from '../behaviour/tables.js';

const FONT_FILES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/System/Library/Fonts/Supplemental/Arial.ttf',
];

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  useFontMetrics();
  const quiet = { level: () => quiet, error: () => quiet, warn: () => quiet, info: () => quiet, debug: () => quiet } as never;
  const vg = compile(spec, { logger: quiet }).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

let metricsSet = false;
/** vega measures text with the PNG font's advance widths (its no-canvas estimate is ~40% too wide). */
function useFontMetrics(): void {
  if (metricsSet) return;
  metricsSet = true;
  const file = fontFile();
  // vega's text measurer (vega-scenegraph textMetrics) is not in its typings: the part used here.
  interface TextItem {
    text?: unknown;
    fontSize?: number;
    fontWeight?: string | number;
  }
  const tm = (vega as unknown as { textMetrics: { width(item: TextItem, text?: unknown): number } }).textMetrics;
  tm.width = (item: TextItem, text?: unknown) => {
    const t = text ?? item.text;
    const str = t == null ? '' : String(t);
    const size = item.fontSize ?? 11;
    const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
    return textWidth(str, size, bold, file);
  };
}

export function fontFile(): string | undefined {
  return FONT_FILES.find((f) => existsSync(f));
}

/** SVG text -> PNG bytes (white background, `scale` x the SVG size). */
export function svgToPng(svg: string, scale = 2): Buffer {
  const file = fontFile();
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { fontFiles: file ? [file] : [], loadSystemFonts: !file, defaultFontFamily: FONT, sansSerifFamily: FONT },
  });
  return r.render().asPng();
}

export interface FiguresResult {
  /** Paths written. */
  files: string[];
  /** What could not be drawn, and why. */
  skipped: string[];
}

/** Writes every figure and table the lines allow into `outDir` (atomically, file by file). */
export async function writeFigures(
  lines: readonly unknown[],
  outDir: string,
  opts: { scale?: number } = {},
): Promise<FiguresResult> {
  const files: string[] = [];
  const skipped: string[] = [];
  const put = (name: string, data: string | Uint8Array) => {
    const p = join(outDir, name);
    writeFileAtomic(p, data);
    files.push(p);
  };
  const draw = async (name: string, spec: TopLevelSpec) => {
    const svg = await renderSvg(spec);
    put(`${name}.svg`, svg);
    put(`${name}.png`, svgToPng(svg, opts.scale ?? 2));
    put(`${name}.vl.json`, JSON.stringify(spec, null, 1) + '\n');
  };
  const f1 = figure1Data(lines);
  if (f1.length) await draw('figure1-kernel-vs-ft', figure1Spec(f1));
  else skipped.push('figure 1: no finished kernel or fine-tuning result lines');
  const rows = behaviourTable(lines);
  if (rows.length) {
    await draw('figure2-linearization', figure2Spec(figure2Data(rows)));
    put('table-linearization.md', renderLinearizationMarkdown(rows));
    put('table-kernel-distance.md', renderFixedFeaturesMarkdown(rows));
    put('table-behaviour.csv', renderBehaviourCsv(rows));
  } else
    skipped.push(
      'figure 2 and the behaviour tables: no fine-tuning lines with behaviour measurements (finetune-run --behaviour)',
    );
  const obj = lines as Record<string, unknown>[];
  const lora = obj.filter((l) => l && l.kind === 'lora-vs-full') as unknown as LoraLine[];
  if (lora.length) {
    await draw('figure3-lora-vs-full', figure3Spec(lora));
    put('table-lora-vs-full.md', lora.map(renderLoraMarkdown).join('\n'));
  }
  const chi = obj.filter((l) => l && l.kind === 'chi') as unknown as ChiLine[];
  if (chi.length) {
    await draw('figure4-chi', figure4Spec(chi));
    put('table-chi.md', renderChiMarkdown(chi));
    put('table-chi.csv', renderChiCsv(chi));
  }
  return { files, skipped };
}
