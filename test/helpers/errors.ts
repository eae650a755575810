import { expect } from 'vitest';
import { MlflowError } from '../../core/errors.ts';

/** Runs fn and returns the message of the 400 INVALID_PARAMETER_VALUE it throws (fails the test otherwise). */
export function invalidParamMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MlflowError);
    expect((e as MlflowError).errorCode).toBe('INVALID_PARAMETER_VALUE');
    expect((e as MlflowError).status).toBe(400);
    return (e as MlflowError).message;
  }
  throw new Error('expected an MlflowError');
}
