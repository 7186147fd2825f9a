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
 * The consumer group id of one event-source mapping on AWS: the stage, then the group of consumers.ts
 * (`<stage>.<groupId>.<topic>`), so two stages never share a group even on one cluster.
 */
export const awsConsumerGroupId = (
  stage: string,
  consumer: Pick<ConsumerDefinition, 'groupId'>,
  topic: string,
): string => `${stage}.${esmConsumerGroupId(consumer, topic)}`;

/** The three ARNs every Kafka grant is written from. */
export interface KafkaArns {
  clusterArn: string;
  /** `arn:<partition>:kafka:<region>:<account>:topic/<cluster name>/<cluster uuid>/` */
  topicArnPrefix: string;
  /** `arn:<partition>:kafka:<region>:<account>:group/<cluster name>/<cluster uuid>/` */
  groupArnPrefix: string;
}

/**
 * The topic and group ARN prefixes of a cluster, derived from its ARN
 * (`arn:aws:kafka:region:account:cluster/<name>/<uuid>`). Topic and group ARNs have the forms
 * `…:topic/<name>/<uuid>/<topic>` and `…:group/<name>/<uuid>/<group>`
 * (https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html#msk-iam-resources).
 * The event-bus stack evaluates these expressions ONCE and exports the results; a stack that re-derived them
 * per ARN would carry a split/select expression in every topic ARN (hundreds of KB for the audit function).
 */
export const kafkaArnPrefixes = (clusterArn: string): Omit<KafkaArns, 'clusterArn'> => {
  const parts = Fn.split('/', clusterArn, 3);
  const head = Fn.select(0, Fn.split(':cluster/', clusterArn, 2));
  const tail = ['/', Fn.select(1, parts), '/', Fn.select(2, parts), '/'];
  return {
    topicArnPrefix: Fn.join('', [head, ':topic', ...tail]),
    groupArnPrefix: Fn.join('', [head, ':group', ...tail]),
  };
};

/**
 * IAM resource ARNs of one MSK cluster. Each ARN is `<prefix><name>`: with the prefixes imported from the
 * event-bus stack, a topic or group ARN costs a few dozen bytes of template.
 */
export class KafkaResources {
  readonly clusterArn: string;
  readonly #topicPrefix: string;
  readonly #groupPrefix: string;

  constructor(arns: KafkaArns) {
    this.clusterArn = arns.clusterArn;
    this.#topicPrefix = arns.topicArnPrefix;
    this.#groupPrefix = arns.groupArnPrefix;
  }

  /** Derives the prefixes in the template itself: for a single stack or a test, not across stacks. */
  static fromClusterArn(clusterArn: string): KafkaResources {
    return new KafkaResources({ clusterArn, ...kafkaArnPrefixes(clusterArn) });
  }

  topicArn(topic: string): string {
    return `${this.#topicPrefix}${topic}`;
  }

  groupArn(group: string): string {
    return `${this.#groupPrefix}${group}`;
  }
}

/** A topic's domain: its name up to the first dot (`appointment` for `appointment.requested`). */
export const domainOf = (topic: string): string => topic.split('.')[0] ?? topic;

/**
 * The fewest resource names that cover exactly `wanted` within `catalog`: a domain whose every catalog topic
 * is wanted becomes `<domain>.*` (when the domain has more than one topic), every other topic stays by name.
 * `<domain>.*` matches only names starting with `<domain>.`, which are the domain's topics by definition, so
 * the grant covers nothing of the catalog the function does not use.
 */
export const topicPatterns = (wanted: readonly string[], catalog: readonly string[]): string[] => {
  const want = new Set(wanted);
  const byDomain = new Map<string, string[]>();
  for (const t of new Set([...catalog, ...wanted])) {
    const d = domainOf(t);
    byDomain.set(d, [...(byDomain.get(d) ?? []), t]);
  }
  const out: string[] = [];
  for (const [domain, topics] of [...byDomain].sort(([a], [b]) => a.localeCompare(b))) {
    const mine = topics.filter((t) => want.has(t)).sort();
    if (!mine.length) continue;
    if (topics.length > 1 && mine.length === topics.length) out.push(`${domain}.*`);
    else out.push(...mine);
  }
  return out;
};

export interface KafkaGrantContext {
  /** Every topic of the bus (topicSpecs()), for collapsing whole domains into one prefix. */
  catalog: readonly string[];
  stage: string;
}

/**
 * Everything a consumer function's execution role needs on the cluster, derived from its definition:
 *  - the event-source mapping (it runs as the function's role): Connect, DescribeClusterDynamicConfiguration
 *    on the cluster; DescribeTopic + ReadData on the topics it reads; DescribeGroup + AlterGroup on its own
 *    groups; kafka:DescribeClusterV2 + GetBootstrapBrokers
 *    (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html);
 *  - the in-function producer (idempotent, shared/kafka/producer.ts): WriteDataIdempotently on the cluster,
 *    DescribeTopic + WriteData on the topics it publishes and on esante.dlq (the per-record dead-letter tier).
 * Reads of a whole domain are one `<domain>.*` ARN (and its groups `<stage>.<groupId>.<domain>.*`); writes are
 * always named topics. No `kafka-cluster:*`, no bare topic or group wildcard.
 */
export const consumerKafkaStatements = (
  kafka: KafkaResources,
  consumer: Pick<ConsumerDefinition, 'topics' | 'publishes' | 'groupId'>,
  context: KafkaGrantContext,
): PolicyStatement[] => {
  const writes = [...new Set<string>([...consumer.publishes, DLQ_TOPIC])].sort();
  const reads = topicPatterns(consumer.topics, context.catalog);
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
      resources: reads.map((t) => kafka.topicArn(t)),
    }),
    new PolicyStatement({
      sid: 'OwnGroups',
      actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
      resources: reads.map((t) => kafka.groupArn(awsConsumerGroupId(context.stage, consumer, t))),
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
  catalog: readonly string[],
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
    resources: topicPatterns(catalog, catalog).map((t) => kafka.topicArn(t)),
  }),
];
