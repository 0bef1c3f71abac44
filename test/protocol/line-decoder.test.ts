import { describe, expect, it } from 'vitest';
import { LineDecoder } from '../../src/protocol/line-decoder.js';

const messages = (lines: ReturnType<LineDecoder['push']>) => lines.map((l) => (l.ok ? l.message : l.code));

describe('LineDecoder', () => {
  it('yields a line only once its newline has arrived', () => {
    const decoder = new LineDecoder();
    expect(decoder.push(Buffer.from('{"id":10'))).toEqual([]);
    expect(decoder.push(Buffer.from('00,"seq"'))).toEqual([]);
    expect(messages(decoder.push(Buffer.from(':1}\n')))).toEqual([{ id: 1000, seq: 1 }]);
  });

  it('yields every line of a chunk holding many, in order', () => {
    const decoder = new LineDecoder();
    const chunk = Buffer.from('{"a":1}\n{"a":2}\n{"a":3}\n{"a":');
    expect(messages(decoder.push(chunk))).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(messages(decoder.push(Buffer.from('4}\n')))).toEqual([{ a: 4 }]);
  });

  it('reassembles a multi-byte UTF-8 character split across chunks', () => {
    const decoder = new LineDecoder();
    const bytes = Buffer.from('{"name":"é€😀"}\n');
    const out = [];
    for (let i = 0; i < bytes.length; i++) out.push(...decoder.push(bytes.subarray(i, i + 1)));
    expect(messages(out)).toEqual([{ name: 'é€😀' }]);
  });

  it('ignores empty lines and accepts CRLF line endings', () => {
    const decoder = new LineDecoder();
    expect(messages(decoder.push(Buffer.from('\n\r\n  \n{"a":1}\r\n\n')))).toEqual([{ a: 1 }]);
  });

  it.each([
    ['not JSON', 'hello'],
    ['an array', '[1,2]'],
    ['a number', '42'],
    ['null', 'null'],
    ['a string', '"x"'],
  ])('answers EBADMSG for a line that is %s', (_what, line) => {
    const decoder = new LineDecoder();
    expect(messages(decoder.push(Buffer.from(`${line}\n`)))).toEqual(['EBADMSG']);
  });

  it('answers EBADMSG for invalid UTF-8', () => {
    const decoder = new LineDecoder();
    expect(messages(decoder.push(Buffer.from([0x7b, 0xff, 0x7d, 0x0a])))).toEqual(['EBADMSG']);
  });

  it('yields the lines before a bad one, then the error, then nothing more', () => {
    const decoder = new LineDecoder();
    expect(messages(decoder.push(Buffer.from('{"a":1}\nnope\n{"a":2}\n')))).toEqual([{ a: 1 }, 'EBADMSG']);
    expect(decoder.spent).toBe(true);
    expect(decoder.push(Buffer.from('{"a":3}\n'))).toEqual([]);
  });

  it('answers EMSGSIZE as soon as more than the limit is buffered without a newline', () => {
    const decoder = new LineDecoder(16);
    expect(decoder.push(Buffer.from('{"a":"0123456'))).toEqual([]);
    expect(decoder.push(Buffer.from('789'))).toEqual([]); // exactly 16 bytes: still allowed
    expect(messages(decoder.push(Buffer.from('x')))).toEqual(['EMSGSIZE']);
  });

  it('accepts a line of exactly the limit and refuses one byte more', () => {
    const exact = '{"a":"01234567"}'; // 16 bytes
    expect(messages(new LineDecoder(16).push(Buffer.from(`${exact}\n`)))).toEqual([{ a: '01234567' }]);
    expect(messages(new LineDecoder(16).push(Buffer.from(`{"a":"012345678"}\n`)))).toEqual(['EMSGSIZE']);
  });

  it('answers EMSGSIZE for the default 1 MiB limit without waiting for a newline', () => {
    const decoder = new LineDecoder();
    expect(decoder.push(Buffer.alloc(1024 * 1024, 0x20))).toEqual([]);
    expect(messages(decoder.push(Buffer.from(' ')))).toEqual(['EMSGSIZE']);
  });

  it('accepts strings as chunks', () => {
    expect(messages(new LineDecoder().push('{"ok":true}\n'))).toEqual([{ ok: true }]);
  });
});
