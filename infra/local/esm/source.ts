import type { ConsumerDefinition } from '../../consumers.ts';
import { functionName, LOCAL_STAGE } from '../../names.ts';

/**
 * What the emulator needs from a consumer definition (infra/consumers.ts). Topics are plain strings so tests
 * can point a real definition at throw-away topics: `{ ...consumerByName('audit'), topics: [t], groupId: g }`.
 */
export type EsmSource = Pick<
  ConsumerDefinition,
  | 'name'
  | 'entry'
  | 'groupId'
  | 'startingPosition'
  | 'batchSize'
  | 'maxBatchingWindowSeconds'
  | 'retryAttempts'
  | 'bisectBatchOnError'
  | 'reportBatchItemFailures'
  | 'pollers'
  | 'timeoutSeconds'
  | 'memoryMb'
> & { topics: readonly string[] };

/** The local stand-ins for AWS identifiers: a fake account in the Paris region. */
export const LOCAL_REGION = 'eu-west-3';
export const LOCAL_ACCOUNT = '000000000000';

/** A well-formed MSK cluster ARN (cluster/<name>/<uuid>-<n>, as MSK prints them) for the local broker. */
export const LOCAL_CLUSTER_ARN = `arn:aws:kafka:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cluster/esante-local/00000000-0000-0000-0000-000000000000-1`;

/** A consumer's function name on the local stack: functionName() of the `local` stage, as AWS names it per stage. */
export const localFunctionName = (name: string): string => functionName(LOCAL_STAGE, name);

export const localFunctionArn = (name: string): string =>
  `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${localFunctionName(name)}`;

/**
 * AWS caps "infinite" retries (-1) at 10 when an on-failure destination is configured, and every consumer
 * here has one (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html).
 */
export const effectiveRetryAttempts = (retryAttempts: number): number =>
  retryAttempts < 0 ? 10 : retryAttempts;
