import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '../../../shared/lambda/clients.ts';
import { AUDIT_ANCHOR, DEAD_LETTER_QUEUE, TABLES, type TableDefinition } from '../../resources.ts';

export interface ProvisionResult {
  tables: { name: string; created: boolean }[];
  queueUrl?: string;
  anchorBucket?: string;
}

/** CreateTable input for a definition of infra/resources.ts (on-demand billing, every index projects ALL). */
export const createTableInput = (table: TableDefinition): CreateTableCommandInput => {
  const attributes = new Map<string, 'S' | 'N'>();
  const keys = [
    table.partitionKey,
    table.sortKey,
    ...table.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  for (const key of keys) if (key) attributes.set(key.name, key.type);
  const schema = (pk: { name: string }, sk?: { name: string }) => [
    { AttributeName: pk.name, KeyType: 'HASH' as const },
    ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: table.name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    KeySchema: schema(table.partitionKey, table.sortKey),
    ...(table.indexes.length
      ? {
          GlobalSecondaryIndexes: table.indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: schema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: 'ALL' as const },
          })),
        }
      : {}),
  };
};

/**
 * Creates the tables of infra/resources.ts TABLES and the SQS dead-letter queue DEAD_LETTER_QUEUE on the
 * endpoints named in `env` (DYNAMODB_ENDPOINT, SQS_ENDPOINT). Idempotent: existing tables and queues are
 * left as they are. The SQS queue is skipped when no SQS endpoint is given.
 */
export const provisionAws = async (env: Record<string, string | undefined>): Promise<ProvisionResult> => {
  const dynamodb = new DynamoDBClient(awsClientConfig('dynamodb', env));
  const result: ProvisionResult = { tables: [] };
  try {
    for (const table of Object.values(TABLES) as TableDefinition[]) {
      let created = true;
      try {
        await dynamodb.send(new CreateTableCommand(createTableInput(table)));
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
        created = false;
      }
      await waitUntilTableExists(
        { client: dynamodb, maxWaitTime: 30, minDelay: 1 },
        { TableName: table.name },
      );
      if (created && table.ttlAttribute) await enableTtl(dynamodb, table.name, table.ttlAttribute);
      result.tables.push({ name: table.name, created });
    }
  } finally {
    dynamodb.destroy();
  }
  if (env.SQS_ENDPOINT) {
    const sqs = new SQSClient(awsClientConfig('sqs', env));
    try {
      const out = await sqs.send(
        new CreateQueueCommand({
          QueueName: DEAD_LETTER_QUEUE.name,
          Attributes: { MessageRetentionPeriod: String(DEAD_LETTER_QUEUE.retentionDays * 86_400) },
        }),
      );
      if (out.QueueUrl) result.queueUrl = out.QueueUrl;
    } finally {
      sqs.destroy();
    }
  }
  const bucket = env[AUDIT_ANCHOR.env];
  if (env.S3_ENDPOINT && bucket) {
    await provisionAnchorBucket(env, bucket);
    result.anchorBucket = bucket;
  }
  return result;
};

/**
 * The audit anchor bucket as the CDK app makes it: Object Lock enabled at creation (which turns versioning
 * on for good) and a default COMPLIANCE retention of AUDIT_ANCHOR_RETENTION_DAYS (the writer also stamps
 * each object with it).
 */
const provisionAnchorBucket = async (env: Record<string, string | undefined>, bucket: string) => {
  const s3 = new S3Client({ ...awsClientConfig('s3', env), forcePathStyle: true });
  try {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    } catch (error) {
      if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
    }
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: {
            DefaultRetention: {
              Mode: 'COMPLIANCE',
              Days: Number(env[AUDIT_ANCHOR.retentionEnv] || AUDIT_ANCHOR.retentionDays),
            },
          },
        },
      }),
    );
  } finally {
    s3.destroy();
  }
};

/** dynalite does not implement TTL; AWS does (and the CDK app sets it). Locally, items simply stay. */
const enableTtl = async (client: DynamoDBClient, table: string, attribute: string): Promise<void> => {
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    );
  } catch (error) {
    const name = (error as Error)?.name ?? '';
    if (!/UnknownOperation|NotImplemented|UnrecognizedClient|ValidationException/.test(name)) throw error;
  }
};
