/**
 * `npm run dlq -- list|show|replay` — inspect and redrive dead letters from both failure tiers.
 *
 *   list [--source kafka|sqs]            one line per entry: id, origin, reason (no payload)
 *   show <id> [--show-phi]               the entry and its original records; PHI fields hidden unless asked
 *   replay <id...>|--all [--function <name>] [--keep]
 *        Kafka entries go back to their original topic (same key, bytes and headers, so the same eventId:
 *        every consumer's side effects are idempotent on it); SQS entries (a batch the ESM discarded) are
 *        re-read from Kafka and handed straight to the function that failed (or --function); a replayed SQS
 *        entry is deleted from the queue unless --keep. Replaying twice creates no duplicate effects.
 *
 * Environment: KAFKA_BROKERS (or MSK_CLUSTER_ARN …), ESM_DLQ_URL and SQS_ENDPOINT for the SQS queue.
 */
import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../../shared/kafka/config.ts';
import type { RawRecord } from '../../shared/kafka/record.ts';
import { awsClientConfig } from '../../shared/lambda/clients.ts';
import { toMskEvent } from '../../shared/lambda/msk-event.ts';
import { CONSUMERS, consumerByName } from '../consumers.ts';
import { DEAD_LETTER_QUEUE } from '../resources.ts';
import {
  acknowledgeSqs,
  type DlqEntry,
  describeRecords,
  listKafkaDeadLetters,
  listSqsDeadLetters,
  recordsOf,
} from './dlq.ts';

export interface DlqContext {
  kafka: Kafka;
  sqs?: { client: SQSClient; queueUrl: string };
  print: (line: string) => void;
}

export const listEntries = async (ctx: DlqContext, source?: string): Promise<DlqEntry[]> => [
  ...(source === 'sqs' ? [] : await listKafkaDeadLetters(ctx.kafka)),
  ...(source === 'kafka' || !ctx.sqs ? [] : await listSqsDeadLetters(ctx.sqs.client, ctx.sqs.queueUrl)),
];

const functionFor = (entry: DlqEntry, override?: string) => {
  const name =
    override ??
    CONSUMERS.find((c) => entry.failedBy.endsWith(`esante-${c.name}`) || entry.failedBy === c.name)?.name;
  const fn = name ? consumerByName(name) : undefined;
  if (name && !fn) throw new Error(`No consumer function named "${name}" in infra/consumers.ts`);
  return fn;
};

/** Hands records to a function in-process, as its ESM would (an MSK event, a Lambda-like context). */
const invokeFunction = async (fnName: string, records: RawRecord[], bootstrapServers: string) => {
  const fn = consumerByName(fnName);
  if (!fn) throw new Error(`Unknown function ${fnName}`);
  const { lambdaContext } = await import('../local/esm/context.ts');
  const { LOCAL_CLUSTER_ARN } = await import('../local/esm/source.ts');
  const module = (await import(`../../${fn.entry}`)) as {
    handler: (e: unknown, c: unknown) => Promise<unknown>;
  };
  const response = (await module.handler(
    toMskEvent(records, { eventSourceArn: LOCAL_CLUSTER_ARN, bootstrapServers }),
    lambdaContext(fn),
  )) as { batchItemFailures?: unknown[] } | undefined;
  return response?.batchItemFailures ?? [];
};

export const replayEntry = async (
  ctx: DlqContext,
  entry: DlqEntry,
  options: { function?: string; keep?: boolean } = {},
): Promise<{ id: string; records: number; target: string; failures: number }> => {
  const records = await recordsOf(ctx.kafka, entry);
  const expected = entry.ranges.reduce((n, r) => n + Number(BigInt(r.last) - BigInt(r.first) + 1n), 0);
  if (records.length < expected) {
    throw new Error(
      `${entry.id}: only ${records.length} of ${expected} records are still in Kafka (retention?)`,
    );
  }
  const fn = entry.source === 'sqs' || options.function ? functionFor(entry, options.function) : undefined;
  let failures = 0;
  let target: string;
  if (fn) {
    const bootstrap = (process.env.KAFKA_BROKERS ?? '').trim();
    failures = (await invokeFunction(fn.name, records, bootstrap)).length;
    target = `function ${fn.name}`;
  } else {
    const producer = ctx.kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      for (const r of records) {
        const headers: Record<string, Buffer> = { 'dlq-replay-of': Buffer.from(entry.id) };
        for (const [k, v] of Object.entries(r.headers)) if (v) headers[k] = v;
        await producer.send({
          topic: r.topic,
          acks: -1,
          messages: [{ key: r.key, value: r.value, headers }],
        });
      }
    } finally {
      await producer.disconnect();
    }
    target = `topic ${records[0]?.topic}`;
  }
  if (entry.source === 'sqs' && failures === 0 && !options.keep && ctx.sqs) {
    await acknowledgeSqs(ctx.sqs.client, ctx.sqs.queueUrl, entry);
  }
  return { id: entry.id, records: records.length, target, failures };
};

export const main = async (argv: string[], ctx: DlqContext): Promise<number> => {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      source: { type: 'string' },
      'show-phi': { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      function: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const [command, ...ids] = positionals;
  const entries = await listEntries(ctx, values.source);
  const pick = (id: string) => {
    const entry = entries.find((e) => e.id === id);
    if (!entry) throw new Error(`No dead letter ${id}; see \`npm run dlq -- list\``);
    return entry;
  };
  switch (command) {
    case 'list':
      for (const e of entries) {
        const where = e.ranges.map(
          (r) => `${r.topic}-${r.partition}@${r.first}${r.last === r.first ? '' : `..${r.last}`}`,
        );
        ctx.print(`${e.id}\t${e.timestamp}\t${where.join(',')}\t${e.failedBy}\t${e.reason}`);
      }
      ctx.print(`${entries.length} dead letter(s)`);
      return 0;
    case 'show': {
      const entry = pick(ids[0] ?? '');
      const records = describeRecords(await recordsOf(ctx.kafka, entry), values['show-phi']);
      const { letter: _letter, sqs, ...summary } = entry;
      ctx.print(JSON.stringify({ ...summary, onFailure: sqs?.body, records }, null, 2));
      return 0;
    }
    case 'replay': {
      const chosen = values.all ? entries : ids.map(pick);
      let failed = 0;
      for (const entry of chosen) {
        const result = await replayEntry(ctx, entry, { function: values.function, keep: values.keep });
        failed += result.failures;
        ctx.print(
          `${result.id}: ${result.records} record(s) → ${result.target}${result.failures ? `, ${result.failures} failed` : ''}`,
        );
      }
      return failed ? 1 : 0;
    }
    default:
      ctx.print(
        'usage: npm run dlq -- list [--source kafka|sqs] | show <id> [--show-phi] | replay <id...>|--all [--function <name>] [--keep]',
      );
      return 2;
  }
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const queueUrl = process.env[DEAD_LETTER_QUEUE.env];
  const ctx: DlqContext = {
    kafka: await createKafka(),
    ...(queueUrl ? { sqs: { client: new SQSClient(awsClientConfig('sqs')), queueUrl } } : {}),
    print: (line) => console.log(line),
  };
  try {
    process.exitCode = await main(process.argv.slice(2), ctx);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
