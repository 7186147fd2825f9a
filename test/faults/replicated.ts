import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { ClusterNode, RunningCluster } from '../../infra/local/kafka/cluster.ts';
import { LOCAL_CLUSTER_TIMEOUTS } from '../../infra/local/kafka/cluster.ts';
import { verifyAuditTrail } from '../../infra/ops/audit-cli.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { AUDIT_ONLY_TOPICS, auditOnlyEvent } from './events.ts';
import { check, type ScenarioResult, seconds } from './report.ts';
import {
  auditEntries,
  EsmChild,
  type FaultStack,
  kafkaCopies,
  kafkaDeadLetters,
  sleep,
  sqsDeadLetters,
  waitCaughtUp,
  waitFor,
} from './stack.ts';
import { startVerifiableConsumer, startVerifiableProducer } from './verifiable.ts';

/**
 * Fault scenarios on the three-node cluster (infra/local/kafka/cluster.ts, MSK's broker properties), each
 * run side by side with Kafka's own verification clients:
 * - `leader-kills`: SIGKILL of the node leading the most written partitions, then restart, `faults` times;
 * - `leader-pause`: SIGSTOP of that node for longer than the broker session and replica lag timeouts, SIGCONT;
 * - `isolation`: that node cut off from the other two (every inter-node link proxy cut) while clients still
 *   reach it, then reconnected.
 * Our side: `publish()` (acks=all, idempotent) → the ESM child → one audit entry per event. Kafka's side:
 * VerifiableProducer (acks=all, idempotent) → VerifiableConsumer on a topic of its own with as many
 * partitions. Both publish at the same pace during the same faults.
 */
export type ReplicatedFault = 'leader-kills' | 'leader-pause' | 'isolation';

export interface ReplicatedOptions {
  fault: ReplicatedFault;
  events: number;
  /** How many faults (default: 3 kills, 1 pause, 1 isolation). */
  faults?: number;
  /** Publishing pace of both producers; default spreads the events over about 60 s per fault. */
  perSecond?: number;
  /** How long a pause or a cut lasts (default 20 s: beyond the 9 s session and 10 s replica lag timeouts). */
  faultMs?: number;
  window?: number;
  catchUpTimeoutMs?: number;
  /** Progress lines for people (the runner prints them). */
  progress?: (line: string) => void;
}

const NAMES: Record<ReplicatedFault, string> = {
  'leader-kills': 'Three nodes: leader SIGKILLs',
  'leader-pause': 'Three nodes: leader paused (SIGSTOP/SIGCONT)',
  isolation: 'Three nodes: leader cut off from its peers',
};

/** The scenarios' names, in the order docs/reliability.md lists them. */
export const REPLICATED_NAMES = Object.values(NAMES);

/** The node leading the most partitions of `topics` right now. */
const busiestLeader = async (
  kafka: Kafka,
  cluster: RunningCluster,
  topics: string[],
): Promise<ClusterNode> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics });
    const led = new Map<number, number>();
    for (const t of meta) for (const p of t.partitions) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
    const [id] = [...led.entries()].filter(([n]) => n >= 0).sort((a, b) => b[1] - a[1])[0] ?? [1];
    return cluster.node(id);
  } finally {
    await admin.disconnect();
  }
};

/** Waits until every partition of `topics` has all its replicas in sync again; the time it took, or null. */
const waitFullIsr = async (kafka: Kafka, topics: string[], timeoutMs: number): Promise<number | null> => {
  const started = Date.now();
  const ok = await waitFor(
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const { topics: meta } = await admin.fetchTopicMetadata({ topics });
        return meta.every((t) => t.partitions.every((p) => p.isr.length === p.replicas.length));
      } catch {
        return false;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    timeoutMs,
    1_000,
  );
  return ok ? Date.now() - started : null;
};

/** Longest stretch without an acknowledgement between `from` and the last one (the whole run if none). */
export const longestGap = (from: number, acks: Iterable<number>, to: number): number => {
  const times = [...acks].sort((a, b) => a - b);
  if (times.length === 0) return to - from;
  let longest = 0;
  let previous = from;
  for (const t of times) {
    longest = Math.max(longest, t - previous);
    previous = Math.max(previous, t);
  }
  return longest;
};

interface FaultRecord {
  node: number;
  startedAt: number;
  endedAt: number;
  isrFullMs: number | null;
}

export const replicatedScenario = async (
  stack: FaultStack,
  options: ReplicatedOptions,
): Promise<ScenarioResult> => {
  const cluster = stack.cluster;
  if (!cluster) throw new Error('the replicated scenarios need a stack with its own cluster (ownCluster)');
  const step = options.progress ?? (() => undefined);
  const faultCount = options.faults ?? (options.fault === 'leader-kills' ? 3 : 1);
  const faultMs = options.faultMs ?? 20_000;
  // A kill is followed by a restart and a wait for the replicas (a minute or more on a loaded machine).
  const perFaultS = options.fault === 'leader-kills' ? 90 : 60;
  const perSecond = options.perSecond ?? Math.max(1, options.events / (perFaultS * faultCount));
  const window = options.window ?? 1_000;
  const run = randomUUID().slice(0, 8);
  const service = `faults-replicated-${run}`;
  const ourTopics = [...AUDIT_ONLY_TOPICS] as string[];

  // Kafka's clients get a topic of their own, as many partitions as ours together, RF 3, broker defaults.
  const theirTopic = `faults.verifiable.${run}`;
  const admin = stack.kafka.admin();
  await admin.connect();
  const { topics: ourMeta } = await admin.fetchTopicMetadata({ topics: ourTopics });
  const partitions = ourMeta.reduce((n, t) => n + t.partitions.length, 0);
  await admin.createTopics({
    waitForLeaders: false,
    topics: [{ topic: theirTopic, numPartitions: partitions, replicationFactor: 3 }],
  });
  await admin.disconnect();
  await waitFullIsr(stack.kafka, [theirTopic], 60_000);
  const allTopics = [...ourTopics, theirTopic];

  const child = new EsmChild(stack, stack.groupSuffix);
  await child.start();
  const theirConsumer = await startVerifiableConsumer({
    brokers: stack.brokers,
    topic: theirTopic,
    groupId: `faults-verifiable-${run}`,
    tap: stack.tap,
  });
  const producer = new KafkaProducer({ handleSignals: false });
  await producer.connect();
  const theirProducer = await startVerifiableProducer({
    brokers: stack.brokers,
    topic: theirTopic,
    messages: -1,
    perSecond,
    tap: stack.tap,
  });

  const resolved = new Map<string, number>();
  const rejected = new Map<string, string>();
  const faults: FaultRecord[] = [];
  const faultAt = Array.from({ length: faultCount }, (_, k) =>
    Math.floor((options.events * (k + 1)) / (faultCount + 1)),
  );
  const injectOne = async (): Promise<void> => {
    const node = await busiestLeader(stack.kafka, cluster, allTopics);
    const startedAt = Date.now();
    if (options.fault === 'leader-kills') {
      await node.kill();
      await node.restart();
    } else if (options.fault === 'leader-pause') {
      node.pause();
      await sleep(faultMs);
      node.resume();
    } else {
      node.isolate();
      await sleep(faultMs);
      node.reconnect();
    }
    const endedAt = Date.now();
    step(`fault on node ${node.id} over after ${seconds(endedAt - startedAt)}; waiting for the replicas`);
    faults.push({
      node: node.id,
      startedAt,
      endedAt,
      isrFullMs: await waitFullIsr(stack.kafka, allTopics, 180_000),
    });
  };
  // Faults run one after the other (a node back and in sync before the next), never holding up publishing.
  let injecting: Promise<void> = Promise.resolve();
  const inflight = new Set<Promise<void>>();
  const started = Date.now();
  step(`publishing ${options.events} events at ${Math.round(perSecond)}/s`);
  try {
    for (let i = 0; i < options.events; i++) {
      if (faultAt.length > 0 && i >= (faultAt[0] as number)) {
        faultAt.shift();
        injecting = injecting.then(injectOne);
      }
      while (inflight.size >= window) await Promise.race(inflight);
      const due = started + (i / perSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      const event = auditOnlyEvent(run, i, service);
      const id = event.meta.eventId;
      const publish: Promise<void> = producer
        .publish(event.topic, event.payload as never, event.meta)
        .then(
          () => {
            resolved.set(id, Date.now());
          },
          (error: unknown) => {
            rejected.set(id, `${(error as Error).name}/${(error as { code?: string }).code ?? '-'}`);
          },
        )
        .finally(() => inflight.delete(publish));
      inflight.add(publish);
    }
    await Promise.all(inflight);
  } finally {
    await producer.disconnect().catch(() => undefined);
    await theirProducer.stop();
  }
  const publishedAt = Date.now();
  step(`published in ${seconds(publishedAt - started)}; ${resolved.size} acknowledged`);
  // A fault is on record once its replicas are back in sync: count them when every one has ended.
  await injecting;
  const faultsDuringPublishing = faults.filter((f) => f.startedAt < publishedAt).length;

  step('waiting for the consumers');
  const catchUpTimeoutMs = options.catchUpTimeoutMs ?? 600_000;
  const ourCatchUpMs = await waitCaughtUp(stack.kafka, stack.groupSuffix, ourTopics, catchUpTimeoutMs);
  const theirCatchUpMs = await waitTheirConsumer(
    stack.kafka,
    theirTopic,
    theirConsumer.positions,
    catchUpTimeoutMs,
  );
  await theirConsumer.stop();
  await child.stop();

  step('counting');
  // Ours: effects in the audit store, copies on Kafka.
  const audit = await auditEntries(service);
  const ourLost = [...resolved.keys()].filter((id) => !audit.has(id)).length;
  const auditDuplicates = [...audit.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
  const allIds = new Set([...resolved.keys(), ...rejected.keys()]);
  const copies = await kafkaCopies(stack.kafka, ourTopics, allIds);
  const ourWrittenTwice = [...copies.values()].filter((c) => c > 1).length;
  // Where a missing audit entry went: never on Kafka (the write was lost), or read and dead-lettered.
  const ourNotOnKafka = [...resolved.keys()].filter((id) => !copies.has(id)).length;
  const missingIds = new Set([...resolved.keys()].filter((id) => !audit.has(id)));
  const letters = await kafkaDeadLetters(stack.kafka, (_e, id) => id !== undefined && allIds.has(id));
  const onFailure = await sqsDeadLetters(stack);
  const chain = await verifyAuditTrail();
  // Kafka's: records read by VerifiableConsumer.
  const theirLost = [...theirProducer.acked.keys()].filter((v) => !theirConsumer.offsets.has(v)).length;
  const theirWrittenTwice = [...theirConsumer.offsets.values()].filter((o) => o.size > 1).length;
  const ourGap = longestGap(started, resolved.values(), publishedAt);
  const theirGap = longestGap(theirProducer.startedAt, theirProducer.acked.values(), publishedAt);
  const kinds = (m: Map<string, string>) => [...new Set(m.values())].join(', ') || 'none';
  const faultLabel =
    options.fault === 'leader-kills'
      ? 'SIGKILL + restart'
      : options.fault === 'leader-pause'
        ? `SIGSTOP ${seconds(faultMs)}`
        : `cut off ${seconds(faultMs)}`;

  return {
    name: NAMES[options.fault],
    figures: [
      [
        'Faults (node: fault → all replicas in sync again)',
        faults
          .map((f) => `node ${f.node}: ${seconds(f.endedAt - f.startedAt)} → ${seconds(f.isrFullMs)}`)
          .join('; '),
      ],
      ['Acknowledged (ours)', resolved.size],
      ['Acknowledged (Kafka VerifiableProducer)', theirProducer.acked.size],
      ['Lost (ours: acknowledged, no audit entry)', ourLost],
      ['Lost (Kafka: acknowledged, never consumed)', theirLost],
      ['Duplicate audit entries', auditDuplicates],
      ['Acknowledged but not on Kafka (ours)', ourNotOnKafka],
      [
        'Missing audit entries that are on Kafka (ours)',
        [...missingIds].filter((id) => copies.has(id)).length,
      ],
      ['Dead-lettered (esante.dlq / ESM on-failure)', `${letters.length} / ${onFailure.length}`],
      ['Written twice on Kafka (ours / Kafka)', `${ourWrittenTwice} / ${theirWrittenTwice}`],
      ['Longest time with no acknowledged write (ours / Kafka)', `${seconds(ourGap)} / ${seconds(theirGap)}`],
      [
        'Consumers caught up after the last publish (ours / Kafka)',
        `${seconds(ourCatchUpMs)} / ${seconds(theirCatchUpMs)}`,
      ],
      ['Publishing took', seconds(publishedAt - started)],
    ],
    table: [
      ['', 'Ours: publish() → ESM → audit', 'Kafka: VerifiableProducer → VerifiableConsumer'],
      [
        'Writes attempted',
        String(options.events),
        String(theirProducer.acked.size + theirProducer.failed.size),
      ],
      ['Acknowledged', String(resolved.size), String(theirProducer.acked.size)],
      [
        'Failed (the caller saw an error)',
        `${rejected.size} (${kinds(rejected)})`,
        `${theirProducer.failed.size} (${kinds(theirProducer.failed)})`,
      ],
      ['Lost (acknowledged, never consumed)', String(ourLost), String(theirLost)],
      [
        'Duplicated (audit entries / records read at two offsets)',
        String(auditDuplicates),
        String(theirWrittenTwice),
      ],
      ['Longest time with no acknowledged write', seconds(ourGap), seconds(theirGap)],
      ['Consumers caught up', seconds(ourCatchUpMs), seconds(theirCatchUpMs)],
    ],
    checks: [
      check('every publish settled (resolved or rejected)', resolved.size + rejected.size === options.events),
      check(
        "Kafka's VerifiableProducer ran throughout",
        theirProducer.crashed === undefined && theirProducer.acked.size > 0,
        theirProducer.crashed,
      ),
      check(
        `${faultCount} fault(s) (${faultLabel}) began during publishing`,
        faultsDuringPublishing === faultCount,
      ),
      check(
        'all replicas back in sync after each fault',
        faults.every((f) => f.isrFullMs !== null),
      ),
      check('0 lost: one audit entry per acknowledged publish', ourLost === 0, `${ourLost} missing`),
      check('0 duplicate audit entries', auditDuplicates === 0),
      check("consumers caught up (ours and Kafka's)", ourCatchUpMs !== null && theirCatchUpMs !== null),
      check("lost no more than Kafka's own clients", ourLost <= theirLost, `${ourLost} vs ${theirLost}`),
      check(
        "failed no more publishes than Kafka's own clients",
        rejected.size <= theirProducer.failed.size,
        `${rejected.size} vs ${theirProducer.failed.size}`,
      ),
      check('audit hash chains verify', chain.problems.length === 0),
      check('the ESM child never crashed', child.crashes.length === 0, child.crashes.join('; ')),
    ],
    notes: [
      `Three combined controller+broker nodes with MSK's broker properties (RF 3, min.insync.replicas 2, unclean leader election off; infra/broker-config.ts), broker session timeout ${LOCAL_CLUSTER_TIMEOUTS['broker.session.timeout.ms'] / 1000} s, replica lag ${LOCAL_CLUSTER_TIMEOUTS['replica.lag.time.max.ms'] / 1000} s.`,
      `Both producers write at ${Math.round(perSecond)}/s during the same faults, each fault hitting the node that leads the most partitions of both workloads at that moment; ours to the three audit-only topics (${partitions} partitions, window ${window}), Kafka's to a topic of its own with ${partitions} partitions.`,
    ],
  };
};

/** Waits until VerifiableConsumer has read up to the end of every partition of `topic`. */
const waitTheirConsumer = async (
  kafka: Kafka,
  topic: string,
  positions: Map<number, number>,
  timeoutMs: number,
): Promise<number | null> => {
  const started = Date.now();
  const ok = await waitFor(
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const ends = await admin.fetchTopicOffsets(topic);
        return ends.every(
          (p) => Number(p.high) === 0 || (positions.get(p.partition) ?? -1) >= Number(p.high) - 1,
        );
      } catch {
        return false;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    timeoutMs,
    1_000,
  );
  return ok ? Date.now() - started : null;
};
