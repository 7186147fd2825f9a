import { setTimeout as sleep } from 'node:timers/promises';
import { EventBusError } from '../errors.ts';

export interface RetryPolicy {
  /** Total attempts, the first included (the seed's `maxRetries = 3`). */
  attempts: number;
  /** Delay after attempt n is `baseDelayMs * 2^n`, capped by maxDelayMs: the seed's 2^n seconds. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Full jitter spreads retries of many records hitting the same outage. */
  jitter: boolean;
}

/** The seed's defaults: 3 attempts, waiting 2 s then 4 s. */
export const SEED_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, jitter: false };

export const backoffDelay = (
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number => {
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return policy.jitter ? Math.round(delay * random()) : delay;
};

export class RetriesExhaustedError extends EventBusError {
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super('RETRIES_EXHAUSTED', `Gave up after ${attempts} attempt(s); last error ${reason}`, {
      retryable: false,
      cause,
    });
    this.name = 'RetriesExhaustedError';
    this.attempts = attempts;
  }
}

export interface RetryOutcome<T> {
  ok: boolean;
  value?: T;
  error?: unknown;
  attempts: number;
}

/**
 * Runs `fn` until it succeeds, fails permanently (EventBusError.isRetryable says no) or the attempts run out.
 * Never throws: the caller decides (dead-letter, fail the batch).
 */
export const withRetry = async <T>(
  fn: (attempt: number) => Promise<T> | T,
  policy: RetryPolicy,
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void,
): Promise<RetryOutcome<T>> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return { ok: true, value: await fn(attempt), attempts: attempt };
    } catch (error) {
      if (!EventBusError.isRetryable(error) || attempt >= policy.attempts) {
        return {
          ok: false,
          error: EventBusError.isRetryable(error) ? new RetriesExhaustedError(attempt, error) : error,
          attempts: attempt,
        };
      }
      const delayMs = backoffDelay(policy, attempt);
      onRetry?.(attempt, error, delayMs);
      await sleep(delayMs);
    }
  }
};
