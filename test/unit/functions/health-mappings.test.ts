import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { Admin } from 'kafkajs';
import { beforeEach, describe, expect, it } from 'vitest';
import { mappingConsumers, mappingState, stalledFromLag } from '../../../functions/health/mappings.ts';
import { consumerProblems } from '../../../shared/kafka/health.ts';

const lambda = mockClient(LambdaClient);
const cloudwatch = mockClient(CloudWatchClient);
const NOW = Date.parse('2026-11-30T10:00:00Z');
const minutesAgo = (n: number) => new Date(NOW - n * 60_000);
const fnArn = (name: string) => `arn:aws:lambda:eu-west-3:123456789012:function:${name}`;

const mapping = (uuid: string, fn: string, topic: string, state: string, reason = 'USER_INITIATED') => ({
  UUID: uuid,
  FunctionArn: fnArn(fn),
  Topics: [topic],
  AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: `${fn}-service.${topic}` },
  State: state,
  StateTransitionReason: reason,
});

/** One OffsetLag value per minute, newest first, as GetMetricData returns it with TimestampDescending. */
const series = (id: string, values: number[]) => ({
  Id: id,
  Timestamps: values.map((_, i) => minutesAgo(i)),
  Values: values,
  StatusCode: 'Complete' as const,
});

const probe = (stallSeconds = 300) =>
  mappingConsumers({
    functions: ['esante-dev-audit', 'esante-dev-notification'],
    lambda: new LambdaClient({ region: 'eu-west-3' }),
    cloudwatch: new CloudWatchClient({ region: 'eu-west-3' }),
    now: () => NOW,
  })({ admin: {} as Admin, stallAfterMs: stallSeconds * 1000 });

beforeEach(() => {
  lambda.reset();
  cloudwatch.reset();
});

describe('the health function on AWS: event-source mappings as consumers', () => {
  it('maps each mapping state to running, restarting or stopped', () => {
    expect(mappingState('Enabled')).toBe('running');
    for (const s of ['Creating', 'Enabling', 'Updating']) expect(mappingState(s)).toBe('restarting');
    for (const s of ['Disabling', 'Disabled', 'Deleting', undefined]) expect(mappingState(s)).toBe('stopped');
  });

  it('reports every mapping of the listed functions with its state, reason, group and OffsetLag', async () => {
    // Prepare
    lambda
      .on(ListEventSourceMappingsCommand, { FunctionName: 'esante-dev-audit' })
      .resolves({
        EventSourceMappings: [
          mapping('u-1', 'esante-dev-audit', 'user.user.registered', 'Enabled'),
          mapping('u-2', 'esante-dev-audit', 'message.message.sent', 'Disabled', 'USER_INITIATED'),
        ],
      })
      .on(ListEventSourceMappingsCommand, { FunctionName: 'esante-dev-notification' })
      .resolves({
        EventSourceMappings: [mapping('u-3', 'esante-dev-notification', 'user.user.registered', 'Enabling')],
      });
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [series('m0', [0, 4, 9]), series('m1', [12, 12]), series('m2', [3])],
    });

    // Act
    const consumers = await probe();

    // Assess
    expect(consumers).toEqual([
      {
        name: 'esante-dev-audit',
        groupId: 'esante-dev-audit-service.user.user.registered',
        state: 'running',
        lag: { 'user.user.registered': 0 },
        stalled: [],
        reason: 'USER_INITIATED',
      },
      {
        name: 'esante-dev-audit',
        groupId: 'esante-dev-audit-service.message.message.sent',
        state: 'stopped',
        lag: { 'message.message.sent': 12 },
        stalled: [],
        reason: 'USER_INITIATED',
      },
      {
        name: 'esante-dev-notification',
        groupId: 'esante-dev-notification-service.user.user.registered',
        state: 'restarting',
        lag: { 'user.user.registered': 3 },
        stalled: [],
        reason: 'USER_INITIATED',
      },
    ]);
    expect(consumerProblems(consumers)).toBe(
      'consumer esante-dev-audit (group esante-dev-audit-service.message.message.sent) is stopped (USER_INITIATED); ' +
        'consumer esante-dev-notification (group esante-dev-notification-service.user.user.registered) is restarting (USER_INITIATED)',
    );
    // The lag query: the mapping's OffsetLag by its UUID, per minute, over at least the stall bound.
    const query = cloudwatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    expect(query?.MetricDataQueries?.map((q) => q.Expression)).toEqual([
      `SEARCH('Namespace="AWS/Lambda" MetricName="OffsetLag" "u-1"', 'Maximum', 60)`,
      `SEARCH('Namespace="AWS/Lambda" MetricName="OffsetLag" "u-2"', 'Maximum', 60)`,
      `SEARCH('Namespace="AWS/Lambda" MetricName="OffsetLag" "u-3"', 'Maximum', 60)`,
    ]);
    expect(NOW - new Date(query?.StartTime ?? NOW).getTime()).toBeGreaterThanOrEqual(300_000);
  });

  it('reports an enabled mapping whose lag has not gone down for the whole bound as stalled', async () => {
    // Prepare: 7 minutes of lag ≥ 40 that never decreased, against a 5-minute bound.
    lambda.on(ListEventSourceMappingsCommand).resolves({
      EventSourceMappings: [mapping('u-9', 'esante-dev-audit', 'user.user.registered', 'Enabled')],
    });
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [series('m0', [55, 50, 48, 48, 45, 40, 40])],
    });

    // Act
    const [audit] = await probe(300);

    // Assess
    expect(audit?.stalled).toEqual([{ topic: 'user.user.registered', lag: 55, forSeconds: 360 }]);
    expect(consumerProblems([audit as never])).toContain(
      'has not moved on user.user.registered for 360 s with lag 55',
    );
  });

  it('does not call a mapping stalled when its lag went down, touched 0, or the data is too short', () => {
    const at = (values: number[]) => values.map((value, i) => ({ at: NOW - i * 60_000, value }));
    expect(stalledFromLag(at([30, 40, 50, 60, 70, 80, 90]), 't', 300_000, NOW)).toBeUndefined();
    expect(stalledFromLag(at([30, 30, 0, 30, 30, 30, 30]), 't', 300_000, NOW)).toBeUndefined();
    expect(stalledFromLag(at([30, 30]), 't', 300_000, NOW)).toBeUndefined();
    expect(stalledFromLag(at([30, 30, 30, 30, 30, 30]), 't', 300_000, NOW)).toEqual({
      topic: 't',
      lag: 30,
      forSeconds: 300,
    });
  });
});
