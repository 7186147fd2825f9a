import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/kafka/free-port.ts';
import { type RunningElasticMq, startElasticMq } from '../../infra/local/sqs/elasticmq.ts';

/** ElasticMQ from Maven Central stands in for SQS: create a queue, send, receive, delete with the JSON protocol. */
describe('local ElasticMQ', () => {
  let sqs: RunningElasticMq | undefined;
  let dataDir = '';

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'elasticmq-'));
    sqs = await startElasticMq({ port: await freePort(), dataDir });
  });
  afterAll(async () => {
    await sqs?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** One call of the SQS JSON protocol (what the AWS SDK v3 speaks), without the SDK. */
  async function call<T>(action: string, body: Record<string, unknown>): Promise<T> {
    if (!sqs) throw new Error('ElasticMQ not started');
    const res = await fetch(sqs.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}` },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${action}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  it('creates a queue, sends and receives a message', async () => {
    const { QueueUrl } = await call<{ QueueUrl: string }>('CreateQueue', { QueueName: 'it-queue' });
    expect(QueueUrl).toMatch(/\/000000000000\/it-queue$/);

    const sent = await call<{ MessageId: string }>('SendMessage', {
      QueueUrl,
      MessageBody: JSON.stringify({ hello: 'sqs' }),
      MessageAttributes: { type: { DataType: 'String', StringValue: 'greeting' } },
    });
    expect(sent.MessageId).toBeTruthy();

    const received = await call<{
      Messages?: { MessageId: string; Body: string; ReceiptHandle: string; MessageAttributes?: object }[];
    }>('ReceiveMessage', {
      QueueUrl,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 2,
      MessageAttributeNames: ['All'],
    });
    const message = received.Messages?.[0];
    expect(message?.MessageId).toBe(sent.MessageId);
    expect(JSON.parse(message?.Body ?? '{}')).toEqual({ hello: 'sqs' });
    expect(message?.MessageAttributes).toMatchObject({ type: { StringValue: 'greeting' } });

    await call('DeleteMessage', { QueueUrl, ReceiptHandle: message?.ReceiptHandle });
    const again = await call<{ Messages?: unknown[] }>('ReceiveMessage', { QueueUrl, WaitTimeSeconds: 0 });
    expect(again.Messages ?? []).toHaveLength(0);
  });
});
