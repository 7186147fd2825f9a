import type { Kafka } from 'kafkajs';

/**
 * Waits until the broker answers for each consumer group's coordinator. A fresh broker creates
 * `__consumer_offsets` on the first FindCoordinator and loads its partitions after that; a consumer that
 * joins meanwhile gets COORDINATOR_LOAD_IN_PROGRESS, crashes and is restarted by kafkajs (two ERROR lines
 * and a restart per consumer). Describing the groups first (a read that creates nothing) lets every
 * consumer join at its first attempt.
 */
export const groupCoordinatorsReady = async (
  kafka: Kafka,
  groupIds: readonly string[],
  timeoutMs = 60_000,
): Promise<void> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await admin.describeGroups([...new Set(groupIds)]);
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`Kafka group coordinators not ready after ${timeoutMs} ms`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await admin.disconnect();
  }
};
