import { randomUUID } from 'node:crypto';
import { verifyAuditTrail } from '../../infra/ops/audit-cli.ts';
import { DEFAULT_DELIVERY_TIMEOUT_MS, KafkaProducer } from '../../shared/kafka/producer.ts';
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
} from './stack.ts';

export interface BrokerKillOptions {
  events: number;
  kills: number;
  /** Most publishes awaiting their acknowledgement at once (the producer coalesces them). */
  window?: number;
  /** Publishing pace (default: the events spread over 30 s), so the kills hit a steady flow. */
  perSecond?: number;
  catchUpTimeoutMs?: number;
}

/**
 * Publishes `events` audit-only events through the producer layer while the broker is SIGKILLed and
 * restarted `kills` times, the ESM child consuming all along. Every publish either resolves or rejects;
 * the audit store must then hold exactly one entry per resolved publish, and at most one per rejected one
 * (a rejected publish may still have been written: an ambiguous acknowledgement).
 */
export const brokerKills = async (stack: FaultStack, options: BrokerKillOptions): Promise<ScenarioResult> => {
  const broker = stack.broker;
  if (!broker) throw new Error('broker kills need a stack with its own broker');
  const run = randomUUID().slice(0, 8);
  const suffix = stack.groupSuffix;
  const service = `faults-broker-${run}`;
  const topics = [...AUDIT_ONLY_TOPICS] as string[];
  const child = new EsmChild(stack, suffix);
  await child.start();
  const producer = new KafkaProducer({ handleSignals: false });
  const window = options.window ?? 1_000;
  const perSecond = options.perSecond ?? Math.max(10, options.events / 30);
  await producer.connect();

  const resolved = new Set<string>();
  const rejected = new Map<string, string>();
  const resolveTimes: number[] = [];
  const outages: { killedAt: number; upAt: number }[] = [];
  const killAt = Array.from({ length: options.kills }, (_, k) =>
    Math.floor((options.events * (k + 1)) / (options.kills + 1)),
  );
  let killing: Promise<void> = Promise.resolve();
  const inflight = new Set<Promise<void>>();
  const started = Date.now();
  try {
    for (let i = 0; i < options.events; i++) {
      if (killAt.length > 0 && i >= (killAt[0] as number)) {
        killAt.shift();
        await killing;
        killing = (async () => {
          const killedAt = Date.now();
          broker.kill();
          await broker.restart();
          outages.push({ killedAt, upAt: Date.now() });
        })();
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
            resolved.add(id);
            resolveTimes.push(Date.now());
          },
          (error: unknown) => {
            rejected.set(id, `${(error as Error).name}/${(error as { code?: string }).code ?? '-'}`);
          },
        )
        .finally(() => inflight.delete(publish));
      inflight.add(publish);
    }
    await Promise.all(inflight);
    await killing;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  const publishedAt = Date.now();
  const catchUpMs = await waitCaughtUp(stack.kafka, suffix, topics, options.catchUpTimeoutMs ?? 600_000);
  await child.stop();

  const audit = await auditEntries(service);
  const missing = [...resolved].filter((id) => !audit.has(id));
  const duplicates = [...audit.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
  const rejectedStored = [...rejected.keys()].filter((id) => audit.has(id)).length;
  const allIds = new Set([...resolved, ...rejected.keys()]);
  const copies = await kafkaCopies(stack.kafka, topics, allIds);
  const kafkaDuplicates = [...copies.values()].filter((c) => c > 1).length;
  const resolvedNotOnKafka = [...resolved].filter((id) => !copies.has(id)).length;
  const letters = await kafkaDeadLetters(stack.kafka, (_e, id) => id !== undefined && allIds.has(id));
  const onFailure = await sqsDeadLetters(stack);
  const chain = await verifyAuditTrail();
  const resumed = outages.map(({ upAt }) => {
    const first = resolveTimes.filter((t) => t >= upAt).sort((a, b) => a - b)[0];
    return first === undefined ? null : first - upAt;
  });
  const errorKinds = [...new Set(rejected.values())].join(', ') || 'none';

  return {
    name: 'Broker kills',
    figures: [
      ['Events published', options.events],
      ['Broker SIGKILLs (each followed by a restart)', outages.length],
      ['Publishes resolved', resolved.size],
      ['Publishes rejected (caller saw the error)', `${rejected.size} (${errorKinds})`],
      ['Lost (resolved, no audit entry)', missing.length],
      ['Duplicate audit entries', duplicates],
      ['Rejected publishes stored anyway (ambiguous ack, 1 entry each)', rejectedStored],
      ['Events written to Kafka more than once (absorbed by the consumer)', kafkaDuplicates],
      ['Resolved publishes not found on Kafka', resolvedNotOnKafka],
      ['Dead-lettered (esante.dlq / ESM on-failure)', `${letters.length} / ${onFailure.length}`],
      ['Broker down per kill (SIGKILL → ready)', outages.map((o) => seconds(o.upAt - o.killedAt)).join(', ')],
      ['Time to recover: first acknowledged publish after restart', resumed.map(seconds).join(', ')],
      ['Time to recover: consumers caught up after the last publish', seconds(catchUpMs)],
      ['Publishing took', seconds(publishedAt - started)],
      [
        'Audit hash chains',
        `${chain.chains} chains, ${chain.entries} entries, ${chain.problems.length} broken`,
      ],
    ],
    checks: [
      check('every publish settled (resolved or rejected)', resolved.size + rejected.size === options.events),
      check(`${options.kills} broker kill(s) happened during publishing`, outages.length === options.kills),
      check(
        '0 lost: one audit entry per resolved publish',
        missing.length === 0,
        `${missing.length} missing`,
      ),
      check('0 duplicate audit entries', duplicates === 0),
      check(
        'no publish rejected: each outage was shorter than the delivery timeout',
        rejected.size === 0 || outages.some((o) => o.upAt - o.killedAt >= DEFAULT_DELIVERY_TIMEOUT_MS),
        `${rejected.size} rejected`,
      ),
      check('consumers caught up', catchUpMs !== null),
      check('audit hash chains verify', chain.problems.length === 0),
      check('the ESM child never crashed', child.crashes.length === 0, child.crashes.join('; ')),
    ],
    notes: [
      'Events go to three audit-only topics (9 partitions) with a window of ' +
        `${window} unacknowledged publishes, paced at ${Math.round(perSecond)}/s; the kills happen at evenly spaced points of the run.`,
      'A rejected publish is the producer giving up after its delivery timeout (120 s of retries, at most 1 s apart): ' +
        'the caller gets an EventBusError KAFKA_UNAVAILABLE (retryable) and may publish again with the same eventId.',
    ],
  };
};
