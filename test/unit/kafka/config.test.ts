import { GetBootstrapBrokersCommand } from '@aws-sdk/client-kafka';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../shared/errors.ts';
import { CLIENT_DEFAULTS, readConfig, resolveBrokers, toKafkaConfig } from '../../../shared/kafka/config.ts';

const ARN = 'arn:aws:kafka:eu-west-3:123456789012:cluster/esante/abcd-1234';

describe('readConfig', () => {
  it('defaults to the seed settings on localhost', () => {
    const config = readConfig({});
    expect(config).toEqual({
      clientId: 'esante-backend',
      brokers: ['localhost:9092'],
      auth: 'none',
      ssl: false,
    });
    const kafka = toKafkaConfig(config, config.brokers ?? []);
    expect(kafka).toMatchObject({
      clientId: 'esante-backend',
      retry: { initialRetryTime: 100, retries: 8 },
      connectionTimeout: 10_000,
      requestTimeout: 30_000,
      ssl: false,
    });
    expect(kafka.sasl).toBeUndefined();
    expect(CLIENT_DEFAULTS.retry).toEqual({ initialRetryTime: 100, retries: 8 });
  });

  it('splits and trims KAFKA_BROKERS and reads KAFKA_CLIENT_ID', () => {
    expect(readConfig({ KAFKA_BROKERS: ' a:9092, b:9092 ,', KAFKA_CLIENT_ID: 'svc' })).toMatchObject({
      brokers: ['a:9092', 'b:9092'],
      clientId: 'svc',
    });
  });

  it('selects IAM over TLS when only a cluster ARN is given, region from the ARN', () => {
    const config = readConfig({ MSK_CLUSTER_ARN: ARN });
    expect(config).toMatchObject({ auth: 'iam', ssl: true, region: 'eu-west-3', clusterArn: ARN });
    expect(config.brokers).toBeUndefined();
    const kafka = toKafkaConfig(config, ['b-1:9098']);
    expect(kafka.sasl?.mechanism).toBe('oauthbearer');
    expect(kafka.ssl).toBe(true);
  });

  it('maps SCRAM credentials to SCRAM-SHA-512 over TLS', () => {
    const config = readConfig({
      KAFKA_BROKERS: 'b:9096',
      KAFKA_AUTH: 'scram',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    expect(toKafkaConfig(config, ['b:9096']).sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'u',
      password: 'p',
    });
    expect(config.ssl).toBe(true);
  });

  it.each([
    [{ KAFKA_AUTH: 'plain' }, /KAFKA_AUTH/],
    [{ KAFKA_AUTH: 'scram' }, /KAFKA_SASL_USERNAME/],
    [{ KAFKA_AUTH: 'iam' }, /AWS_REGION/],
    [{ MSK_CLUSTER_ARN: 'not-an-arn' }, /MSK_CLUSTER_ARN/],
  ])('rejects %o with a ConfigError', (env, message) => {
    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(message);
  });
});

describe('resolveBrokers', () => {
  it('uses KAFKA_BROKERS without calling AWS', async () => {
    const send = vi.fn();
    expect(await resolveBrokers(readConfig({ KAFKA_BROKERS: 'x:1' }), { send })).toEqual(['x:1']);
    expect(send).not.toHaveBeenCalled();
  });

  it('asks GetBootstrapBrokers once per process for the IAM endpoints', async () => {
    const send = vi.fn(async (command: GetBootstrapBrokersCommand) => {
      expect(command).toBeInstanceOf(GetBootstrapBrokersCommand);
      expect(command.input.ClusterArn).toBe(ARN);
      return {
        BootstrapBrokerStringSaslIam: 'b-1.x:9098,b-2.x:9098',
        BootstrapBrokerStringTls: 'b-1.x:9094',
      };
    });
    const config = readConfig({ MSK_CLUSTER_ARN: ARN });
    const [first, second] = await Promise.all([
      resolveBrokers(config, { send }),
      resolveBrokers(config, { send }),
    ]);
    expect(first).toEqual(['b-1.x:9098', 'b-2.x:9098']);
    expect(second).toEqual(first);
    expect(await resolveBrokers(config, { send })).toEqual(first);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('fails clearly when the cluster has no endpoint for the auth mode, and retries next time', async () => {
    const arn = ARN.replace('abcd', 'efgh');
    const config = readConfig({ MSK_CLUSTER_ARN: arn });
    const send = vi.fn().mockResolvedValueOnce({ BootstrapBrokerStringTls: 'b:9094' });
    await expect(resolveBrokers(config, { send })).rejects.toThrow(/no bootstrap brokers for auth=iam/);
    send.mockResolvedValueOnce({ BootstrapBrokerStringSaslIam: 'b:9098' });
    await expect(resolveBrokers(config, { send })).resolves.toEqual(['b:9098']);
  });
});
