/**
 * The CloudWatch and Lambda SDK pieces the health function uses, re-exported so they reach the SDK through
 * shared/ (see clients.ts): the layer already loads the SDK's core (@smithy/core) for shared/errors.ts and
 * the Kafka clients, and a function bundling its own clients loads a second copy at cold start.
 */
export {
  CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
export {
  type EventSourceMappingConfiguration,
  LambdaClient,
  paginateListEventSourceMappings,
} from '@aws-sdk/client-lambda';
