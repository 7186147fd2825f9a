import { describe, expect, it, vi } from 'vitest';
import { PermanentError } from '../../../shared/errors.ts';
import { backoffDelay, RetriesExhaustedError, SEED_RETRY, withRetry } from '../../../shared/kafka/retry.ts';

const fast = { ...SEED_RETRY, baseDelayMs: 1 };

describe('retry', () => {
  it('waits the seed 2^n seconds between attempts', () => {
    expect([1, 2].map((n) => backoffDelay(SEED_RETRY, n))).toEqual([2000, 4000]);
    expect(backoffDelay({ ...SEED_RETRY, maxDelayMs: 3000 }, 5)).toBe(3000);
  });

  it('retries a transient failure until it succeeds', async () => {
    const fn = vi.fn().mockRejectedValueOnce(new Error('throttled')).mockResolvedValueOnce('ok');
    expect(await withRetry(fn, fast)).toEqual({ ok: true, value: 'ok', attempts: 2 });
  });

  it('gives up after the configured attempts with RetriesExhaustedError', async () => {
    const fn = vi.fn().mockRejectedValue(new Error('down'));
    const onRetry = vi.fn();
    const outcome = await withRetry(fn, fast, onRetry);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(onRetry).toHaveBeenCalledTimes(2);
    expect(outcome.error).toBeInstanceOf(RetriesExhaustedError);
    expect(outcome.attempts).toBe(3);
  });

  it('does not retry a permanent error', async () => {
    const fn = vi.fn().mockRejectedValue(new PermanentError('bad'));
    const outcome = await withRetry(fn, fast);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(outcome.error).toBeInstanceOf(PermanentError);
  });
});
