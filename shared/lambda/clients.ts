import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Producer } from 'kafkajs';
import { DeadLetterPublisher } from '../kafka/dlq.ts';

/**
 * The DynamoDB commands and errors functions use, re-exported so they reach the SDK through shared/: the
 * bundler leaves shared/ to the layer, which carries the SDK for dynamo() anyway. A function importing
 * `@aws-sdk/lib-dynamodb` itself bundles and loads a second copy of the SDK at cold start (test/bench/methods.md).
 */
export { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
export {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

/**
 * AWS and Kafka clients, created once per Lambda container (on first use, so the environment is read when
 * the function first needs it) and reused across invocations, as AWS recommends:
 * https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html
 *
 * Locally, DYNAMODB_ENDPOINT / SES_ENDPOINT / SQS_ENDPOINT / S3_ENDPOINT point the SDK at dynalite,
 * aws-ses-v2-local, ElasticMQ and versitygw; with an endpoint set, the credentials come from the same environment or are dummy ones (the
 * local servers accept any signature); without one, the SDK's default chain and region apply.
 */
export const ENDPOINT_ENV = {
  dynamodb: 'DYNAMODB_ENDPOINT',
  ses: 'SES_ENDPOINT',
  sqs: 'SQS_ENDPOINT',
  s3: 'S3_ENDPOINT',
} as const;

export const LOCAL_REGION = 'us-east-1';

export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export const awsClientConfig = (
  service: keyof typeof ENDPOINT_ENV,
  env: NodeJS.ProcessEnv = process.env,
): AwsClientConfig => {
  const endpoint = env[ENDPOINT_ENV[service]]?.trim() || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? LOCAL_REGION : undefined);
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint
      ? {
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID || 'local',
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY || 'local',
          },
        }
      : {}),
  };
};

let documentClient: DynamoDBDocumentClient | undefined;
let dlqProducer: Promise<Producer> | undefined;

/** DynamoDB document client; undefined attributes are dropped rather than rejected. */
export const dynamo = (): DynamoDBDocumentClient => {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient(awsClientConfig('dynamodb')), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
};

const resets: (() => void)[] = [];
/** Lets a client module kept apart (ses.ts) be reset with the others. */
export const onResetClients = (reset: () => void): void => {
  resets.push(reset);
};

/** A plain kafkajs producer for dead letters (acks=all per send); a failed connect is retried next time. */
const connectedDlqProducer = (): Promise<Producer> => {
  dlqProducer ??= (async () => {
    // kafkajs loads on the first dead letter, not at init: a function that only reads (audit) never needs it
    // on the happy path, and it is ~80 ms of cold start (docs/benchmarks.md, row 4).
    const { createKafka } = await import('../kafka/config.ts');
    const kafka = await createKafka();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    return producer;
  })();
  dlqProducer.catch(() => {
    dlqProducer = undefined;
  });
  return dlqProducer;
};

/** The dead-letter publisher of a function, on the container's shared Kafka connection. */
export const deadLetters = (failedBy: string): DeadLetterPublisher =>
  new DeadLetterPublisher({ send: async (record) => (await connectedDlqProducer()).send(record) }, failedBy);

/** Drops the cached clients (tests that change endpoints between files; not needed in Lambda). */
export const resetClients = async (): Promise<void> => {
  documentClient?.destroy();
  const producer = dlqProducer;
  documentClient = undefined;
  for (const reset of resets) reset();
  dlqProducer = undefined;
  await producer?.then((p) => p.disconnect()).catch(() => undefined);
};
