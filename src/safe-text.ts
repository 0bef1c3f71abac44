/**
 * Text from the daemon (file names, volume ids, holder names, reasons) is written by whoever can
 * name a file on a volume or say `hello`: before it reaches a terminal, every character that a
 * terminal would act on instead of print is shown as an escape (issue 17: `volwarden subscribe`
 * printed raw escape sequences from file names).
 */

// C0 controls, DEL, C1 controls (8-bit CSI and friends), and the bidi and line separators that
// can make a line read differently from what it holds.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * The text with every control character shown as `\xHH` (or `\u{HHHH}`), so printing it can
 * neither move the cursor, recolour the screen, retitle the window nor fake a line break.
 *
 * @example
 * escapeControl('src/\x1b[2Jevil.txt');   // 'src/\\x1b[2Jevil.txt'
 * escapeControl('naïve ok.txt');          // unchanged
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * `JSON.stringify` that also writes DEL, C1 and bidi controls as `\uXXXX` (JSON already does
 * C0): the same value once parsed, and safe to print to a terminal.
 *
 * @example
 * safeJson({ name: 'a\u009bb' });   // '{"name":"a\\u009bb"}'
 */
export function safeJson(value: unknown): string {
  // Outside strings JSON has none of these characters, so every match is inside a string literal.
  return JSON.stringify(value).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A deep copy of a JSON-like value with every string passed through {@link escapeControl}, for
 * renderers that print many fields of one daemon reply.
 *
 * @example
 * renderStatus(escapeStrings(await client.status()));
 */
export function escapeStrings<T>(value: T): T {
  if (typeof value === 'string') return escapeControl(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => escapeStrings(item)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, escapeStrings(item)])) as T;
  }
  return value;
}
