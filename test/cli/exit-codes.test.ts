import { describe, expect, it } from 'vitest';
import { CliError, describeFailure, exitCodeFor } from '../../src/cli/exit-codes.js';
import { WardenError } from '../../src/errors.js';

describe('exit codes', () => {
  it('maps protocol errors to the SPEC §11 codes', () => {
    expect(exitCodeFor('ENOENT')).toBe(66);
    expect(exitCodeFor('EBUSY')).toBe(75);
    expect(exitCodeFor('ETIMEDOUT')).toBe(75);
    expect(exitCodeFor('ECONNREFUSED')).toBe(69);
    expect(exitCodeFor('EPERM')).toBe(77);
    expect(exitCodeFor('EINVAL')).toBe(64);
    expect(exitCodeFor('EINVALMANIFEST')).toBe(65);
  });

  it('describes any failure in one line', () => {
    expect(describeFailure(new WardenError('EBUSY', 'busy\nnow'))).toEqual({ exitCode: 75, message: 'busy now (EBUSY)' });
    expect(describeFailure(new CliError(65, 'bad manifest'))).toEqual({ exitCode: 65, message: 'bad manifest' });
    expect(describeFailure(new WardenError('EINVAL', 'port 8080 is in use: choose another'))).toEqual({ exitCode: 64, message: 'port 8080 is in use: choose another' });
    expect(describeFailure(new Error('boom')).exitCode).toBe(70);
  });
});
