import { Fn } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { DLQ_TOPIC } from '../../shared/events/index.ts';
import type { ConsumerDefinition } from '../consumers.ts';

/**
 * The MSK version deployed for a local Kafka version: the same major.minor, as MSK names it. MSK's 4.x line
 * is KRaft-only and named `<major>.<minor>.x.kraft`; 3.x lines are `<major>.<minor>.x`.
 * https://docs.aws.amazon.com/msk/latest/developerguide/supported-kafka-versions.html
 */
export const mskKafkaVersion = (localVersion: string): string => {
  const match = /^(\d+)\.(\d+)\./.exec(localVersion);
  if (!match) throw new Error(`Not a Kafka version: ${localVersion}`);
  const [, major, minor] = match;
  return Number(major) >= 4 ? `${major}.${minor}.x.kraft` : `${major}.${minor}.x`;
};

import { esmConsumerGroupId } from '../consumers.ts';

export { esmConsumerGroupId };

/**
 * IAM resource ARNs of one MSK cluster, built from its ARN
 * (`arn:aws:kafka:region:account:cluster/<name>/<uuid>`). Topic and group ARNs have the forms
 * `…:topic/<name>/<uuid>/<topic>` and `…:group/<name>/<uuid>/<group>`
 * (https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html#msk-iam-resources).
 */
export class KafkaResources {
  readonly #name: string;
  readonly #uuid: string;
  readonly #prefix: (type: 'topic' | 'group') => string;

  constructor(readonly clusterArn: string) {
    const parts = Fn.split('/', clusterArn, 3);
    this.#name = Fn.select(1, parts);
    this.#uuid = Fn.select(2, parts);
    this.#prefix = (type) =>
      Fn.join('', [
        Fn.select(0, Fn.split(':cluster/', clusterArn, 2)),
        `:${type}/`,
        this.#name,
        '/',
        this.#uuid,
        '/',
      ]);
  }

  topicArn(topic: string): string {
    return `${this.#prefix('topic')}${topic}`;
  }

  groupArn(group: string): string {
    return `${this.#prefix('group')}${group}`;
  }
}

/**
 * Everything a consumer function's execution role needs on the cluster, derived from its definition:
 *  - the event-source mapping (it runs as the function's role): Connect, DescribeClusterDynamicConfiguration
 *    on the cluster; DescribeTopic + ReadData on the topics it reads; DescribeGroup + AlterGroup on its own
 *    groups; kafka:DescribeClusterV2 + GetBootstrapBrokers
 *    (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html);
 *  - the in-function producer (idempotent, shared/kafka/producer.ts): WriteDataIdempotently on the cluster,
 *    DescribeTopic + WriteData on the topics it publishes and on esante.dlq (the per-record dead-letter tier).
 * No `kafka-cluster:*`, no topic or group wildcard.
 */
export const consumerKafkaStatements = (
  kafka: KafkaResources,
  consumer: Pick<ConsumerDefinition, 'topics' | 'publishes' | 'groupId'>,
): PolicyStatement[] => {
  const writes = [...new Set<string>([...consumer.publishes, DLQ_TOPIC])];
  return [
    new PolicyStatement({
      sid: 'ClusterApi',
      actions: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
      resources: [kafka.clusterArn],
    }),
    new PolicyStatement({
      sid: 'ClusterConnect',
      actions: [
        'kafka-cluster:Connect',
        'kafka-cluster:DescribeClusterDynamicConfiguration',
        'kafka-cluster:WriteDataIdempotently',
      ],
      resources: [kafka.clusterArn],
    }),
    new PolicyStatement({
      sid: 'ReadOwnTopics',
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      resources: consumer.topics.map((t) => kafka.topicArn(t)),
    }),
    new PolicyStatement({
      sid: 'OwnGroups',
      actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
      resources: consumer.topics.map((t) => kafka.groupArn(esmConsumerGroupId(consumer, t))),
    }),
    new PolicyStatement({
      sid: 'WriteOwnTopics',
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resources: writes.map((t) => kafka.topicArn(t)),
    }),
  ];
};

/** The health function connects, describes the cluster and lists the catalog topics (DescribeTopic each). */
export const healthKafkaStatements = (
  kafka: KafkaResources,
  topics: readonly string[],
): PolicyStatement[] => [
  new PolicyStatement({
    sid: 'ClusterApi',
    actions: ['kafka:GetBootstrapBrokers'],
    resources: [kafka.clusterArn],
  }),
  new PolicyStatement({
    sid: 'ClusterDescribe',
    actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'],
    resources: [kafka.clusterArn],
  }),
  new PolicyStatement({
    sid: 'DescribeTopics',
    actions: ['kafka-cluster:DescribeTopic'],
    resources: topics.map((t) => kafka.topicArn(t)),
  }),
];
