import { describe, expect, it } from 'vitest';
import { consumerByName } from '../../../infra/consumers.ts';
import { localStackProblems, type Probe } from '../../../infra/local/preflight.ts';

/** A fake network (outside the unit): only the listed host:port answer. */
const network = (...up: string[]): Probe & { asked: string[] } => {
  const asked: string[] = [];
  const probe = async (host: string, port: number) => {
    asked.push(`${host}:${port}`);
    return up.includes(`${host}:${port}`);
  };
  return Object.assign(probe, { asked });
};

const notification = consumerByName('notification');
const LOCAL = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DYNAMODB_ENDPOINT: 'http://127.0.0.1:4567',
  SES_ENDPOINT: 'http://127.0.0.1:8005',
  CONTACTS_TABLE: 'c',
  INBOX_TABLE: 'i',
  DELIVERIES_TABLE: 'd',
};

describe('local stack preflight (npm run invoke)', () => {
  it('finds nothing missing when every endpoint answers', async () => {
    const net = network('127.0.0.1:9092', '127.0.0.1:4567', '127.0.0.1:8005');
    expect(await localStackProblems(notification, LOCAL, net)).toEqual([]);
    expect(net.asked.sort()).toEqual(['127.0.0.1:4567', '127.0.0.1:8005', '127.0.0.1:9092']);
  });

  it('names each endpoint that does not answer and each table variable that is not set', async () => {
    const { INBOX_TABLE: _unset, ...env } = LOCAL;
    expect(await localStackProblems(notification, env, network('127.0.0.1:4567'))).toEqual([
      "DynamoDB: INBOX_TABLE is not set (the inbox table's name)",
      'Kafka: nothing answers at 127.0.0.1:9092 (KAFKA_BROKERS)',
      'SES: nothing answers at http://127.0.0.1:8005 (SES_ENDPOINT)',
    ]);
  });

  it('tries the default broker when KAFKA_BROKERS is not set, and says so', async () => {
    expect(await localStackProblems(undefined, {}, network())).toEqual([
      'Kafka: nothing answers at localhost:9092 (KAFKA_BROKERS is not set, the default)',
    ]);
  });

  it('leaves real AWS alone: no endpoint variable, no probe; an MSK cluster ARN is not probed either', async () => {
    const net = network();
    const env = {
      MSK_CLUSTER_ARN: 'arn:aws:kafka:eu-west-3:123456789012:cluster/esante/abc-1',
      CONTACTS_TABLE: 'c',
      INBOX_TABLE: 'i',
      DELIVERIES_TABLE: 'd',
    };
    expect(await localStackProblems(notification, env, net)).toEqual([]);
    expect(net.asked).toEqual([]);
  });
});
