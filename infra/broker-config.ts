/**
 * Broker (server) properties the MSK cluster runs with, in one place: the CDK app writes them into the MSK
 * configuration (infra/stacks/event-bus-stack.ts) and the local three-node cluster (infra/local/kafka/cluster.ts)
 * writes them into each node's server.properties, so local fault runs test the settings production has.
 * RF 3 with `min.insync.replicas` 2: an `acks=all` write is on at least two brokers, and survives one broker
 * down; unclean leader election off: an out-of-sync replica never becomes leader (which would drop
 * acknowledged writes).
 */
export const MSK_SERVER_PROPERTIES = {
  'auto.create.topics.enable': 'false',
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'unclean.leader.election.enable': 'false',
  'num.partitions': '3',
} as const;
