import * as z from 'zod';
import { ConfigError } from '../errors.ts';
import { type RetryPolicy, SEED_RETRY } from '../kafka/retry.ts';

/**
 * The in-function retry policy reaches a function through one environment variable, RECORD_RETRY (JSON of a
 * RetryPolicy). infra/consumers.ts owns the value (`recordRetry`); the CDK app and the local emulator write
 * it with `recordRetryEnv`, so shared/ and functions/ never import infra/ (design.md: functions → shared).
 * Without the variable (a bare `invoke`, a unit test) the seed's policy applies.
 */
export const RECORD_RETRY_ENV = 'RECORD_RETRY';

const policySchema = z.strictObject({
  attempts: z.number().int().min(1).max(10),
  baseDelayMs: z.number().int().min(0).max(60_000),
  maxDelayMs: z.number().int().min(0).max(300_000),
  jitter: z.boolean(),
});

export const recordRetryEnv = (policy: RetryPolicy): Record<string, string> => ({
  [RECORD_RETRY_ENV]: JSON.stringify(policySchema.parse(policy)),
});

/**
 * How long a publish inside a function may wait for Kafka (the producer's KAFKA_DELIVERY_TIMEOUT_MS): short
 * enough that every in-function attempt of a record fits in the function's timeout, so a Kafka outage
 * fails the record with a retryable KAFKA_UNAVAILABLE (and the event-source mapping retries it in order)
 * instead of timing the whole invocation out. 60 s and 3 attempts give 15 s.
 */
export const deliveryTimeoutEnv = (timeoutSeconds: number, policy: RetryPolicy): Record<string, string> => ({
  KAFKA_DELIVERY_TIMEOUT_MS: String(
    Math.max(1_000, Math.floor((timeoutSeconds * 1_000) / (policy.attempts + 1))),
  ),
});

export const readRecordRetry = (env: NodeJS.ProcessEnv = process.env, fallback = SEED_RETRY): RetryPolicy => {
  const raw = env[RECORD_RETRY_ENV];
  if (!raw) return fallback;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigError(`${RECORD_RETRY_ENV} is not JSON`, { cause });
  }
  const parsed = policySchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new ConfigError(`${RECORD_RETRY_ENV} is not a retry policy (bad: ${fields})`);
  }
  return parsed.data;
};

/** A table name from the environment variable infra/resources.ts names for it; missing is a config error. */
export const requireEnv = (name: string, env: NodeJS.ProcessEnv = process.env): string => {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`Environment variable ${name} is not set`);
  return value;
};
