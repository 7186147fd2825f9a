import { describe, expect, it } from 'vitest';
import { CONSUMERS, consumerByName, validateEsmSettings } from '../../../infra/consumers.ts';
import { ConfigError } from '../../../shared/errors.ts';

const audit = consumerByName('audit');
if (!audit) throw new Error('consumers.ts has no audit definition');

describe('ESM settings CloudFormation would refuse', () => {
  it.each([
    ['a fraction of a second', 0.5],
    ['a non-whole number of seconds', 1.5],
    ['a negative window', -1],
    ['more than 300 s', 301],
  ])('refuses a batching window of %s (%s)', (_what, seconds) => {
    // Act
    const act = () => validateEsmSettings({ ...audit, maxBatchingWindowSeconds: seconds });
    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(/"audit".*maxBatchingWindowSeconds/);
  });

  it('refuses a batch size or retry count outside the documented ranges', () => {
    expect(() => validateEsmSettings({ ...audit, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => validateEsmSettings({ ...audit, batchSize: 10_001 })).toThrow(/batchSize/);
    expect(() => validateEsmSettings({ ...audit, retryAttempts: -2 })).toThrow(/retryAttempts/);
  });

  it('accepts the bounds and every definition of consumers.ts', () => {
    expect(validateEsmSettings({ ...audit, maxBatchingWindowSeconds: 0 }).maxBatchingWindowSeconds).toBe(0);
    expect(validateEsmSettings({ ...audit, maxBatchingWindowSeconds: 300 }).maxBatchingWindowSeconds).toBe(
      300,
    );
    for (const consumer of CONSUMERS) expect(validateEsmSettings(consumer)).toBe(consumer);
  });
});
