import { randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ConfigError } from '../../../shared/errors.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { awsClientConfig } from '../../../shared/lambda/clients.ts';
import { partitionKey } from '../../../shared/lambda/msk-event.ts';
import { DEAD_LETTER_QUEUE } from '../../resources.ts';

/**
 * The record Lambda sends to an SQS/SNS on-failure destination for a discarded Kafka batch: metadata only,
 * no payload (only S3 destinations get the payload). Shape, field for field, from
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html ("SNS and SQS example invocation record").
 */
export interface OnFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted' | 'MaximumPayloadSizeExceeded';
    approximateInvokeCount: number;
  };
  /** null when the condition is MaximumPayloadSizeExceeded (the function was never invoked). */
  responseContext: { statusCode: number; executedVersion: string; functionError?: string } | null;
  version: '1.0';
  timestamp: string;
  KafkaBatchInfo: {
    batchSize: number;
    eventSourceArn: string;
    bootstrapServers: string;
    payloadSize: number;
    /** Keyed "topic-partition"; offsets as strings, timestamps as ISO-8601. */
    recordsInfo: Record<
      string,
      {
        firstRecordOffset: string;
        lastRecordOffset: string;
        firstRecordTimestamp: string;
        lastRecordTimestamp: string;
      }
    >;
  };
}

export interface DiscardedBatch {
  records: RawRecord[];
  functionArn: string;
  eventSourceArn: string;
  bootstrapServers: string;
  /** Size in bytes of the event that carried these records. */
  payloadSize: number;
  approximateInvokeCount: number;
  /** `Unhandled` when the last invocation threw or timed out; absent when it returned (partial failure). */
  functionError?: string;
  now?: Date;
}

const iso = (millis: string): string => new Date(Number(millis)).toISOString();

export const onFailureRecord = (batch: DiscardedBatch): OnFailureRecord => {
  const recordsInfo: OnFailureRecord['KafkaBatchInfo']['recordsInfo'] = {};
  const groups = new Map<string, RawRecord[]>();
  for (const record of batch.records) {
    const key = partitionKey(record.topic, record.partition);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  for (const [key, records] of groups) {
    const sorted = [...records].sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
    const first = sorted[0] as RawRecord;
    const last = sorted[sorted.length - 1] as RawRecord;
    recordsInfo[key] = {
      firstRecordOffset: first.offset,
      lastRecordOffset: last.offset,
      firstRecordTimestamp: iso(first.timestamp),
      lastRecordTimestamp: iso(last.timestamp),
    };
  }
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: batch.functionArn,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: batch.approximateInvokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(batch.functionError ? { functionError: batch.functionError } : {}),
    },
    version: '1.0',
    timestamp: (batch.now ?? new Date()).toISOString(),
    KafkaBatchInfo: {
      batchSize: batch.records.length,
      eventSourceArn: batch.eventSourceArn,
      bootstrapServers: batch.bootstrapServers,
      payloadSize: batch.payloadSize,
      recordsInfo,
    },
  };
};

/** Where on-failure records go. The emulator waits for `send` before it commits past a discarded range. */
export interface OnFailureSink {
  send(record: OnFailureRecord): Promise<void>;
}

/**
 * The SQS dead-letter queue of infra/resources.ts: its URL from ESM_DLQ_URL, the endpoint from SQS_ENDPOINT
 * (local ElasticMQ) or the SDK's default resolution (AWS).
 */
export const sqsOnFailureSink = (env: NodeJS.ProcessEnv = process.env): OnFailureSink => {
  const queueUrl = env[DEAD_LETTER_QUEUE.env];
  if (!queueUrl) throw new ConfigError(`${DEAD_LETTER_QUEUE.env} is not set (the ESM on-failure queue URL)`);
  const client = new SQSClient(awsClientConfig('sqs', env));
  return {
    async send(record) {
      await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(record) }));
    },
  };
};
