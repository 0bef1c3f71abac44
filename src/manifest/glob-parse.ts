/**
 * Parses a manifest glob (SPEC §3 `sources`) into a small syntax tree. The syntax is picomatch's
 * minus its backtracking parts: `*`, `?`, `[...]` (ranges, `!`/`^`, POSIX classes), `**` as a
 * whole segment, `{a,b}` (nested), `{1..9}`/`{a..z}` ranges and `\` escapes. Extglobs (`*(a)`,
 * `+(a)`, `?(a)`, `@(a)`, `!(a)`) are refused: nested ones made picomatch's RegExp backtrack for
 * seconds (issue 17), and what is left is a regular language that `glob.ts` matches in linear time.
 */

/** One node of a parsed glob. */
export type GlobNode =
  | { t: 'lit'; ch: string }
  /** `?`: one character other than `/`. */
  | { t: 'any' }
  /** `[...]`: one character other than `/` that `test` accepts (a leading dot too, as in picomatch). */
  | { t: 'class'; test: (ch: string) => boolean }
  /** `*`: any run of characters other than `/`. */
  | { t: 'star' }
  /** `**` as a whole segment: one or more characters, `/` included, no segment starting with a dot. */
  | { t: 'globstar' }
  | { t: 'seq'; items: GlobNode[] }
  | { t: 'alt'; options: GlobNode[] }
  | { t: 'opt'; item: GlobNode };

export type GlobParse = { ok: true; node: GlobNode; isGlob: boolean } | { ok: false; error: string };

/** A brace range expands to at most this many alternatives (`{1..100000}` is a mistake, not a set). */
export const MAX_RANGE_VALUES = 256;

const EXTGLOB_LEADERS = new Set(['*', '?', '+', '@', '!']);
const POSIX_CLASSES: Record<string, (ch: string) => boolean> = {
  alnum: (c) => /[A-Za-z0-9]/.test(c),
  alpha: (c) => /[A-Za-z]/.test(c),
  ascii: (c) => c.charCodeAt(0) < 128,
  blank: (c) => c === ' ' || c === '\t',
  cntrl: (c) => /[\x00-\x1f\x7f]/.test(c),
  digit: (c) => /[0-9]/.test(c),
  graph: (c) => /[\x21-\x7e]/.test(c),
  lower: (c) => /[a-z]/.test(c),
  print: (c) => /[\x20-\x7e]/.test(c),
  punct: (c) => /[!-/:-@[-`{-~]/.test(c),
  space: (c) => /\s/.test(c),
  upper: (c) => /[A-Z]/.test(c),
  word: (c) => /\w/.test(c),
  xdigit: (c) => /[0-9A-Fa-f]/.test(c),
};

class GlobSyntaxError extends Error {}

/**
 * Parses `pattern`; `isGlob` is false when it is a plain path (nothing but literal characters).
 *
 * @example
 * parseGlob('src/**\/*.md');   // { ok: true, isGlob: true, node: { t: 'seq', ... } }
 * parseGlob('src/*(a)b');      // { ok: false, error: 'must not use the extglob "*(" ...' }
 */
export function parseGlob(pattern: string): GlobParse {
  const parser = new Parser(Array.from(pattern));
  try {
    const node = parser.sequence(0);
    return { ok: true, node, isGlob: parser.sawGlob };
  } catch (err) {
    if (err instanceof GlobSyntaxError) return { ok: false, error: err.message };
    throw err;
  }
}

class Parser {
  private i = 0;
  sawGlob = false;

  constructor(private readonly p: string[]) {}

  /** A sequence up to the end, or (inside braces, `depth` > 0) up to the next top-level `,` or `}`. */
  sequence(depth: number): GlobNode {
    const items: GlobNode[] = [];
    const { p } = this;
    while (this.i < p.length) {
      const ch = p[this.i];
      if (depth > 0 && (ch === ',' || ch === '}')) break;
      if (ch === '\\') {
        items.push({ t: 'lit', ch: p[this.i + 1] ?? '\\' });
        this.i += p[this.i + 1] === undefined ? 1 : 2;
      } else if (EXTGLOB_LEADERS.has(ch) && p[this.i + 1] === '(') {
        throw new GlobSyntaxError(
          `must not use the extglob "${ch}(…)": its matching can take exponential time; use *, ?, [...] or {a,b}, or escape the parenthesis as \\(`,
        );
      } else if (ch === '*') {
        this.star(items, depth);
      } else if (ch === '?') {
        this.sawGlob = true;
        items.push({ t: 'any' });
        this.i++;
      } else if (ch === '[' && this.classEnd() !== -1) {
        items.push(this.bracket());
      } else if (ch === '{' && this.braceKind() !== null) {
        items.push(this.brace(depth));
      } else {
        items.push({ t: 'lit', ch });
        this.i++;
      }
    }
    return items.length === 1 ? items[0] : { t: 'seq', items };
  }

  /** `*`, or `**` standing for whole segments (then it may match zero segments with its slash). */
  private star(items: GlobNode[], depth: number): void {
    const { p } = this;
    const start = this.i;
    while (p[this.i] === '*') this.i++;
    this.sawGlob = true;
    const boundary = (ch: string | undefined, marks: string): boolean => ch === undefined || ch === '/' || (depth > 0 && marks.includes(ch));
    const wholeSegment = this.i - start === 2 && boundary(p[start - 1], '{,') && boundary(p[this.i], '},');
    if (!wholeSegment) {
      items.push({ t: 'star' });
      return;
    }
    if (p[this.i] === '/') {
      // `**/` matches zero or more leading segments: `a/**/b` covers `a/b`.
      this.i++;
      items.push({ t: 'opt', item: { t: 'seq', items: [{ t: 'globstar' }, { t: 'lit', ch: '/' }] } });
    } else if (this.i === p.length && items.at(-1)?.t === 'lit' && (items.at(-1) as { ch: string }).ch === '/') {
      // A trailing `/**` covers the directory itself too, as picomatch's does.
      items.pop();
      items.push({ t: 'opt', item: { t: 'seq', items: [{ t: 'lit', ch: '/' }, { t: 'globstar' }] } });
    } else {
      items.push({ t: 'globstar' });
    }
  }

  /** Index of the `]` closing the class opened at `this.i`, or -1 (then `[` is a literal). */
  private classEnd(): number {
    const { p } = this;
    let j = this.i + 1;
    if (p[j] === '!' || p[j] === '^') j++;
    if (p[j] === ']') j++;
    for (; j < p.length; j++) {
      if (p[j] === '\\') j++;
      else if (p[j] === '[' && p[j + 1] === ':') {
        const close = p.indexOf(':', j + 2);
        if (close !== -1 && p[close + 1] === ']') j = close + 1;
      } else if (p[j] === ']') return j;
    }
    return -1;
  }

  private bracket(): GlobNode {
    const { p } = this;
    const end = this.classEnd();
    let j = this.i + 1;
    const negated = p[j] === '!' || p[j] === '^';
    if (negated) j++;
    const tests: Array<(ch: string) => boolean> = [];
    while (j < end) {
      if (p[j] === '[' && p[j + 1] === ':') {
        const close = p.indexOf(':', j + 2);
        const name = p.slice(j + 2, close).join('');
        const posix = POSIX_CLASSES[name];
        if (close !== -1 && p[close + 1] === ']' && close < end) {
          if (posix === undefined) throw new GlobSyntaxError(`has an unknown character class "[:${name}:]"`);
          tests.push(posix);
          j = close + 2;
          continue;
        }
      }
      let lo = p[j];
      if (lo === '\\') lo = p[++j];
      j++;
      if (p[j] === '-' && j + 1 < end) {
        let hi = p[j + 1];
        j += 2;
        if (hi === '\\') hi = p[j++];
        const [a, b] = [lo.codePointAt(0)!, hi.codePointAt(0)!];
        tests.push((c) => c.codePointAt(0)! >= a && c.codePointAt(0)! <= b);
      } else {
        tests.push((c) => c === lo);
      }
    }
    this.i = end + 1;
    this.sawGlob = true;
    const member = (c: string): boolean => tests.some((t) => t(c));
    return { t: 'class', test: negated ? (c) => !member(c) : member };
  }

  /** What the `{` at `this.i` opens: alternatives (a top-level `,`), a range, or nothing (literal). */
  private braceKind(): 'alt' | { lo: string; hi: string } | null {
    const { p } = this;
    let depth = 0;
    let comma = false;
    for (let j = this.i; j < p.length; j++) {
      if (p[j] === '\\') j++;
      else if (p[j] === '{') depth++;
      else if (p[j] === '}') {
        depth--;
        if (depth === 0) {
          if (comma) return 'alt';
          const range = /^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])$/.exec(p.slice(this.i + 1, j).join(''));
          return range === null ? null : { lo: range[1], hi: range[2] };
        }
      } else if (p[j] === ',' && depth === 1) comma = true;
    }
    return null;
  }

  private brace(depth: number): GlobNode {
    const kind = this.braceKind()!;
    this.sawGlob = true;
    if (kind !== 'alt') {
      this.i = this.p.indexOf('}', this.i) + 1;
      return { t: 'alt', options: expandRange(kind.lo, kind.hi).map(literal) };
    }
    const options: GlobNode[] = [];
    this.i++;
    do options.push(this.sequence(depth + 1));
    while (this.p[this.i++] === ',');
    return { t: 'alt', options };
  }
}

/** `{1..3}` → 1, 2, 3; `{01..10}` keeps the width; `{a..e}` by code point. */
function expandRange(lo: string, hi: string): string[] {
  const numeric = /^-?\d+$/.test(lo);
  if (numeric !== /^-?\d+$/.test(hi)) throw new GlobSyntaxError(`has a range {${lo}..${hi}} mixing numbers and letters`);
  const [a, b] = numeric ? [Number(lo), Number(hi)] : [lo.codePointAt(0)!, hi.codePointAt(0)!];
  if (Math.abs(b - a) + 1 > MAX_RANGE_VALUES) {
    throw new GlobSyntaxError(`has a range {${lo}..${hi}} of more than ${MAX_RANGE_VALUES} values`);
  }
  const width = numeric && (/^-?0\d/.test(lo) || /^-?0\d/.test(hi)) ? Math.max(lo.length, hi.length) : 0;
  const values: string[] = [];
  for (let v = a; a <= b ? v <= b : v >= b; v += a <= b ? 1 : -1) {
    values.push(numeric ? String(v).padStart(width, '0') : String.fromCodePoint(v));
  }
  return values;
}

function literal(text: string): GlobNode {
  const items: GlobNode[] = Array.from(text, (ch) => ({ t: 'lit', ch }));
  return items.length === 1 ? items[0] : { t: 'seq', items };
}
