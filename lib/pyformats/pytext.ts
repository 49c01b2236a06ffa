// Python text-file semantics the reference scripts depend on.

/**
 * `open(path, 'r', encoding='utf-8').readlines()`: universal newlines (`\r\n` and a lone `\r` become `\n`),
 * every line keeps its `\n` except possibly the last. A UTF-8 BOM is kept (only `utf-8-sig` strips it).
 */
export function pyReadlines(text: string): string[] {
  const t = text.replace(/\r\n?/g, '\n');
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = t.indexOf('\n', start);
    if (nl < 0) break;
    out.push(t.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < t.length) out.push(t.slice(start));
  return out;
}

// Characters Python's str.isspace() accepts (what str.strip() with no argument removes).
const PY_SPACE =
  '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

/** Python's `str.strip()` (JavaScript's `trim` differs: it strips U+FEFF and keeps U+001C..U+001F, U+0085). */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.includes(s[a])) a++;
  while (b > a && PY_SPACE.includes(s[b - 1])) b--;
  return s.slice(a, b);
}
