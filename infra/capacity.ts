import { topicSpecs } from '../shared/events/index.ts';
import type { ConsumerDefinition } from './consumers.ts';

/**
 * How much Lambda concurrency a consumer can use. Lambda reads each Kafka partition sequentially, one batch of
 * a partition in flight at a time (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html), and a
 * provisioned event poller drives at most 5 concurrent invocations
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html). docs/cost.md explains why reserved
 * concurrency should be this figure rather than a smaller constant.
 */

/** The partitions of every topic the consumer reads: one concurrent invocation each at most. */
export const partitionsRead = (consumer: Pick<ConsumerDefinition, 'topics'>): number => {
  const partitions = new Map(topicSpecs().map((s) => [s.topic, s.partitions]));
  return consumer.topics.reduce((sum, topic) => sum + (partitions.get(topic) ?? 0), 0);
};

/** Most concurrent invocations the consumer's mappings can make: partitions, or its pollers' ceiling if lower. */
export const maxConcurrency = (consumer: Pick<ConsumerDefinition, 'topics' | 'pollers'>): number =>
  Math.min(partitionsRead(consumer), consumer.topics.length * consumer.pollers.maximum * 5);
