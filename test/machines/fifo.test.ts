import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyFifo, fifoFirst, fifoPush, fifoRemove, fifoShift, fifoSome, fifoToArray, type Fifo } from '../../src/machines/fifo.js';

describe('chunked fifo', () => {
  it('behaves like an array queue under any sequence of push, shift and remove', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), value: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('shift' as const) }),
      fc.record({ kind: fc.constant('remove' as const), value: fc.integer({ min: 0, max: 50 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 2000 }), (ops) => {
        let q: Fifo<number> = emptyFifo();
        let model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            q = fifoPush(q, o.value);
            model.push(o.value);
          } else if (o.kind === 'shift') {
            expect(fifoFirst(q)).toBe(model[0]);
            q = fifoShift(q);
            model = model.slice(1);
          } else {
            q = fifoRemove(q, (v) => v === o.value);
            model = model.filter((v) => v !== o.value);
          }
          expect(q.size).toBe(model.length);
          expect(fifoSome(q, (v) => v === 7)).toBe(model.includes(7));
        }
        expect(fifoToArray(q)).toEqual(model);
      }),
      { numRuns: 100 },
    );
  });

  it('never changes a queue it was given (snapshots stay valid)', () => {
    const a = fifoPush(fifoPush(emptyFifo<number>(), 1), 2);
    const b = fifoShift(fifoPush(a, 3));
    expect(fifoToArray(a)).toEqual([1, 2]);
    expect(fifoToArray(b)).toEqual([2, 3]);
  });
});
