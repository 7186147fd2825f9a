/**
 * What every long-running Kafka consumer in this process (the consumer utility, each ESM emulator mapping)
 * says about itself, for `/health/kafka`. A consumer registers a source when it starts and unregisters when
 * it is stopped on purpose; the health check reads every registered source and adds lag from the broker.
 */
export type ConsumerState = 'running' | 'restarting' | 'stopped';

export interface ConsumerStatus {
  /** Kafka consumer group id. */
  groupId: string;
  /** Who consumes: the function name (emulator) or the service's group id (consumer utility). */
  name: string;
  state: ConsumerState;
  /** Topics the group is subscribed to. */
  topics: readonly string[];
  /** Automatic restarts since start. */
  restarts: number;
  /** The last crash: error class and time only, never a message that could carry values. */
  lastError?: { errorClass: string; at: string };
}

export interface ConsumerStatusSource {
  status(): ConsumerStatus;
}

const sources = new Set<ConsumerStatusSource>();

/** Registers a consumer for health reporting; the returned function unregisters it. */
export const registerConsumerStatus = (source: ConsumerStatusSource): (() => void) => {
  sources.add(source);
  return () => {
    sources.delete(source);
  };
};

/** Every registered consumer's status, now. */
export const consumerStatuses = (): ConsumerStatus[] => [...sources].map((s) => s.status());
