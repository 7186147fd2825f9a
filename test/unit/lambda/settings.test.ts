import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors.ts';
import { SEED_RETRY } from '../../../shared/kafka/retry.ts';
import { awsClientConfig } from '../../../shared/lambda/clients.ts';
import { readRecordRetry, recordRetryEnv } from '../../../shared/lambda/settings.ts';

describe('record retry setting', () => {
  it('round-trips a policy through the environment', () => {
    const policy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000, jitter: true };
    expect(readRecordRetry(recordRetryEnv(policy))).toEqual(policy);
  });

  it("falls back to the seed's policy when unset", () => {
    expect(readRecordRetry({})).toEqual(SEED_RETRY);
  });

  it('rejects a malformed policy with a ConfigError naming the field', () => {
    expect(() => readRecordRetry({ RECORD_RETRY: '{"attempts":0}' })).toThrow(ConfigError);
    expect(() => readRecordRetry({ RECORD_RETRY: 'nope' })).toThrow(/not JSON/);
  });
});

describe('AWS client config', () => {
  it('points at a local endpoint with the fixed region and dummy credentials', () => {
    expect(awsClientConfig('dynamodb', { DYNAMODB_ENDPOINT: 'http://127.0.0.1:4567' })).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4567',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  it("leaves AWS's default chain alone without an endpoint", () => {
    expect(awsClientConfig('ses', { AWS_REGION: 'eu-west-3' })).toEqual({ region: 'eu-west-3' });
  });
});
