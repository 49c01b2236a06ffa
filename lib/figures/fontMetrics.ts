// Text widths for vega's layout without a canvas. vega's fallback estimate (0.8 em per character) is about
// 40% too wide, which leaves blank margins and misplaces labels; here the advance widths are read from the
// TrueType font the PNG is rendered with (cmap format 4 + hmtx; no kerning), with 0.6 em per character as
// the fallback when no font file is found.
import { readFileSync } from 'node:fs';

export interface AdvanceTable {
  unitsPerEm: number;
  advance(codePoint: number): number;
}

/** Parses the horizontal advances of a TrueType/OpenType (glyf or CFF) font file. */
export function parseAdvances(buf: Buffer): AdvanceTable {
  const numTables = buf.readUInt16BE(4);
  const tables = new Map<string, number>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + 16 * i;
    tables.set(buf.toString('latin1', rec, rec + 4), buf.readUInt32BE(rec + 8));
  }
  const need = (t: string) => {
    const o = tables.get(t);
    if (o === undefined) throw new Error(`font has no '${t}' table`);
    return o;
  };
  const unitsPerEm = buf.readUInt16BE(need('head') + 18);
  const numH = buf.readUInt16BE(need('hhea') + 34);
  const hmtx = need('hmtx');
  const adv = (g: number) => buf.readUInt16BE(hmtx + 4 * Math.min(g, numH - 1));
  // cmap: the first (3,1) or (0,*) subtable of format 4
  const cmap = need('cmap');
  const n = buf.readUInt16BE(cmap + 2);
  let sub = -1;
  for (let i = 0; i < n; i++) {
    const p = buf.readUInt16BE(cmap + 4 + 8 * i);
    const e = buf.readUInt16BE(cmap + 6 + 8 * i);
    const off = cmap + buf.readUInt32BE(cmap + 8 + 8 * i);
    if (buf.readUInt16BE(off) === 4 && ((p === 3 && e === 1) || p === 0)) {
      sub = off;
      break;
    }
  }
  const cache = new Map<number, number>();
  const glyph = (cp: number): number => {
    if (sub < 0 || cp > 0xffff) return 0;
    const segX2 = buf.readUInt16BE(sub + 6);
    const ends = sub + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const ranges = deltas + segX2;
    for (let s = 0; s < segX2; s += 2) {
      if (buf.readUInt16BE(ends + s) < cp) continue;
      const start = buf.readUInt16BE(starts + s);
      if (start > cp) return 0;
      const delta = buf.readInt16BE(deltas + s);
      const ro = buf.readUInt16BE(ranges + s);
      if (ro === 0) return (cp + delta) & 0xffff;
      const g = buf.readUInt16BE(ranges + s + ro + 2 * (cp - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  return {
    unitsPerEm,
    advance(cp: number): number {
      let w = cache.get(cp);
      if (w === undefined) {
        w = adv(glyph(cp));
        cache.set(cp, w);
      }
      return w;
    },
  };
}

let table: AdvanceTable | null | undefined;

/** Width in pixels of `text` at `fontSize` (bold: +8%, DejaVu Sans Bold's average excess). */
export function textWidth(text: string, fontSize: number, bold = false, fontFile?: string): number {
  if (table === undefined) {
    try {
      table = fontFile ? parseAdvances(readFileSync(fontFile)) : null;
    } catch {
      table = null;
    }
  }
  let w = 0;
  if (table) {
    for (const ch of text) w += table.advance(ch.codePointAt(0)!);
    w = (w / table.unitsPerEm) * fontSize;
  } else {
    w = 0.6 * fontSize * [...text].length;
  }
  return bold ? w * 1.08 : w;
}
