import { rm } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { type RunningCluster, startCluster } from '../../infra/local/kafka/cluster.ts';

/**
 * A fresh three-node cluster (infra/local/kafka/cluster.ts: MSK's broker properties, nodes that can be killed,
 * paused, restarted and cut off one by one) for one test file. Starting three JVMs takes a minute or two on
 * a small machine, hence the long hook timeout.
 */
export const useOwnCluster = (): { cluster: () => RunningCluster; brokers: () => string } => {
  let cluster: RunningCluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 300_000);
  afterAll(async () => {
    await cluster?.stop();
    if (cluster) await rm(cluster.dataDir, { recursive: true, force: true });
  }, 120_000);
  return {
    cluster: () => {
      if (!cluster) throw new Error('the cluster is not started (useOwnCluster runs in beforeAll)');
      return cluster;
    },
    brokers: () => cluster?.brokers.join(',') ?? '',
  };
};
