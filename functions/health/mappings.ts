import type { ConsumerState } from '../../shared/kafka/consumer-status.ts';
import type { ConsumerHealth, ConsumerProbe, StalledPartition } from '../../shared/kafka/health.ts';
import {
  CloudWatchClient,
  type EventSourceMappingConfiguration,
  GetMetricDataCommand,
  LambdaClient,
  type MetricDataQuery,
  type MetricDataResult,
  paginateListEventSourceMappings,
} from '../../shared/lambda/health-clients.ts';

/**
 * The consumer functions whose event-source mappings `/health/kafka` reports on AWS (comma-separated
 * function names; the CDK app sets it on the health function).
 */
export const CONSUMER_FUNCTIONS_ENV = 'HEALTH_CONSUMER_FUNCTIONS';

/**
 * An event-source mapping's `State` as a consumer state: `Enabled` polls (running); `Creating`, `Enabling`
 * and `Updating` are on their way back (restarting); `Disabling`, `Disabled` and `Deleting` poll nothing
 * (stopped). https://docs.aws.amazon.com/lambda/latest/api/API_GetEventSourceMapping.html
 */
export const mappingState = (state: string | undefined): ConsumerState => {
  switch (state) {
    case 'Enabled':
      return 'running';
    case 'Creating':
    case 'Enabling':
    case 'Updating':
      return 'restarting';
    default:
      return 'stopped';
  }
};

const functionName = (arn: string | undefined): string => arn?.split(':function:')[1]?.split(':')[0] ?? '';

/**
 * The OffsetLag of one mapping over the look-back window, newest first. Lambda publishes OffsetLag each
 * minute in AWS/Lambda per function and per mapping; a search on the mapping's UUID finds its series
 * whichever dimension set carries it, and the highest value per minute is kept.
 */
const lagQuery = (id: string, uuid: string): MetricDataQuery => ({
  Id: id,
  Expression: `SEARCH('Namespace="AWS/Lambda" MetricName="OffsetLag" "${uuid}"', 'Maximum', 60)`,
  ReturnData: true,
});

const newestFirst = (results: MetricDataResult[]): { at: number; value: number }[] => {
  const byMinute = new Map<number, number>();
  for (const r of results)
    (r.Timestamps ?? []).forEach((t, i) => {
      const at = new Date(t).getTime();
      const value = r.Values?.[i] ?? 0;
      byMinute.set(at, Math.max(byMinute.get(at) ?? 0, value));
    });
  return [...byMinute].map(([at, value]) => ({ at, value })).sort((a, b) => b.at - a.at);
};

/**
 * Stalled when the lag stayed above 0 at every minute of the whole bound and did not go down over it (the
 * mapping commits nothing, or falls further behind). Lambda gives one figure per mapping, not per
 * partition, so a stall is reported per topic.
 */
export const stalledFromLag = (
  series: { at: number; value: number }[],
  topic: string,
  stallAfterMs: number,
  now: number,
): StalledPartition | undefined => {
  const window = series.filter((p) => p.at >= now - stallAfterMs - 60_000);
  const newest = window[0];
  const oldest = window[window.length - 1];
  if (!newest || !oldest || window.length < 2) return undefined;
  const spanMs = newest.at - oldest.at;
  if (spanMs < stallAfterMs - 60_000) return undefined;
  if (window.some((p) => p.value <= 0) || newest.value < oldest.value) return undefined;
  return { topic, lag: newest.value, forSeconds: Math.round((now - oldest.at) / 1000) };
};

export interface MappingProbeOptions {
  functions: readonly string[];
  lambda?: LambdaClient;
  cloudwatch?: CloudWatchClient;
  now?: () => number;
}

/** GetMetricData calls carry a few search expressions each. */
const SEARCHES_PER_CALL = 5;

/**
 * `/health/kafka`'s consumers on AWS: each Kafka event-source mapping of the consumer functions
 * (ListEventSourceMappings: `State`, `StateTransitionReason`, its topic and consumer group) with its lag
 * (CloudWatch OffsetLag). The broker's committed offsets are not read: Lambda's mappings are the consumers.
 */
export const mappingConsumers =
  (options: MappingProbeOptions): ConsumerProbe =>
  async ({ stallAfterMs }) => {
    const lambda = options.lambda ?? new LambdaClient({});
    const cloudwatch = options.cloudwatch ?? new CloudWatchClient({});
    const now = (options.now ?? Date.now)();
    const mappings: EventSourceMappingConfiguration[] = [];
    for (const fn of options.functions) {
      for await (const page of paginateListEventSourceMappings({ client: lambda }, { FunctionName: fn }))
        mappings.push(...(page.EventSourceMappings ?? []).filter((m) => m.Topics?.length));
    }
    const results = new Map<string, MetricDataResult[]>();
    const queries = mappings.map((m, i) => lagQuery(`m${i}`, m.UUID ?? ''));
    const start = new Date(now - Math.max(stallAfterMs, 300_000) - 120_000);
    const chunks: MetricDataQuery[][] = [];
    for (let i = 0; i < queries.length; i += SEARCHES_PER_CALL)
      chunks.push(queries.slice(i, i + SEARCHES_PER_CALL));
    await Promise.all(
      chunks.map(async (chunk) => {
        let token: string | undefined;
        do {
          const out = await cloudwatch.send(
            new GetMetricDataCommand({
              MetricDataQueries: chunk,
              StartTime: start,
              EndTime: new Date(now),
              ScanBy: 'TimestampDescending',
              NextToken: token,
            }),
          );
          for (const r of out.MetricDataResults ?? []) {
            const id = r.Id ?? '';
            results.set(id, [...(results.get(id) ?? []), r]);
          }
          token = out.NextToken;
        } while (token);
      }),
    );
    return mappings.map((m, i): ConsumerHealth => {
      const topic = m.Topics?.[0] ?? '';
      const series = newestFirst(results.get(`m${i}`) ?? []);
      const stalled = stalledFromLag(series, topic, stallAfterMs, now);
      return {
        name: functionName(m.FunctionArn),
        groupId: m.AmazonManagedKafkaEventSourceConfig?.ConsumerGroupId ?? m.UUID ?? '',
        state: mappingState(m.State),
        lag: series[0] ? { [topic]: series[0].value } : {},
        stalled: stalled ? [stalled] : [],
        ...(m.StateTransitionReason ? { reason: m.StateTransitionReason } : {}),
      };
    });
  };
