// The demo's figure.svg: a dependency-free bar chart of the table's rows.
import type { DemoRow } from './run.js';

/** A dependency-free SVG bar chart (mean with ± std whiskers, chance line at 50%). */
export function barChartSvg(rows: DemoRow[], title: string): string {
  const W = 640,
    rowH = 26,
    left = 210,
    top = 40,
    plotW = W - left - 40;
  const H = top + rows.length * rowH + 40;
  const x = (v: number) => left + Math.max(0, Math.min(1, v)) * plotW;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (let t = 0; t <= 10; t += 2) {
    const xv = x(t / 10);
    parts.push(
      `<line x1="${xv}" y1="${top - 5}" x2="${xv}" y2="${H - 30}" stroke="#ddd"/>`,
      `<text x="${xv}" y="${H - 15}" text-anchor="middle">${t * 10}%</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(
      `<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(r.method.trim())}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${x(r.mean) - left}" height="${rowH - 8}" fill="${r.method.includes('eNTK') ? '#4c78a8' : r.method.includes('zero') ? '#999' : '#f58518'}"/>`,
      `<line x1="${x(r.mean - r.std)}" y1="${y + rowH / 2}" x2="${x(r.mean + r.std)}" y2="${y + rowH / 2}" stroke="black"/>`,
      `<text x="${x(r.mean + r.std) + 4}" y="${y + 16}">${(r.mean * 100).toFixed(1)}</text>`,
    );
  });
  parts.push(
    `<line x1="${x(0.5)}" y1="${top - 5}" x2="${x(0.5)}" y2="${H - 30}" stroke="red" stroke-dasharray="4 3"/>`,
    '</svg>',
  );
  return parts.join('\n') + '\n';
}
