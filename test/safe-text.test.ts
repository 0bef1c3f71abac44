import { describe, expect, it } from 'vitest';
import { escapeControl, escapeStrings, safeJson } from '../src/safe-text.js';

describe('safe text for terminals', () => {
  it('shows C0, DEL, C1 and bidi controls as escapes and leaves printable text alone', () => {
    expect(escapeControl('a\x1b[2Jb\x07c\nd\te\x7ff\u009bg\u202eh')).toBe('a\\x1b[2Jb\\x07c\\x0ad\\x09e\\x7ff\\x9bg\\u{202e}h');
    expect(escapeControl('naïve ünïcode/日本語 ok.txt')).toBe('naïve ünïcode/日本語 ok.txt');
    expect(escapeControl(escapeControl('\x1b'))).toBe('\\x1b'); // idempotent: nothing left to escape
  });

  it('writes JSON that parses to the same value with no raw control in it', () => {
    const value = { name: 'a\u009b31mb', list: ['\u202e', '\x1b'], n: 1 };
    const text = safeJson(value);
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('escapes every string of a nested reply, keys and numbers untouched', () => {
    expect(escapeStrings({ a: ['x\x1b'], b: { c: 3, d: null, e: '\x07' } })).toEqual({ a: ['x\\x1b'], b: { c: 3, d: null, e: '\\x07' } });
  });
});
