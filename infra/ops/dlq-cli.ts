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
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs, parseEnv } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Kafka } from 'kafkajs';
import { ORIGIN_HEADER, originOf } from '../../shared/events/envelope.ts';
import { createKafka } from '../../shared/kafka/config.ts';
import { originalRecord } from '../../shared/kafka/dlq.ts';
import { producer as sharedProducer } from '../../shared/kafka/producer.ts';
import type { RawRecord } from '../../shared/kafka/record.ts';
import { awsClientConfig, resetClients } from '../../shared/lambda/clients.ts';
import { toMskEvent } from '../../shared/lambda/msk-event.ts';
import { type ConsumerDefinition, consumerByName } from '../consumers.ts';
import { lambdaContext } from '../local/esm/context.ts';
import { loadHandler } from '../local/esm/emulator.ts';
import { LOCAL_CLUSTER_ARN } from '../local/esm/source.ts';
import { START_ENV_FILE } from '../local/invoke.ts';
import { parseFunctionName } from '../names.ts';
import { DEAD_LETTER_QUEUE } from '../resources.ts';
import {
  acknowledgeSqs,
  type DlqEntry,
  describeRecords,
  listSqsDeadLetters,
  markReplayed,
  phiValuesOf,
  readDeadLetterTopic,
  recordsOf,
  scrub,
} from './dlq.ts';

export interface DlqContext {
  kafka: Kafka;
  sqs?: { client: SQSClient; queueUrl: string };
  print: (line: string) => void;
}

/** Dead letters of both tiers (or one `source`), each with the replays esante.dlq records for it. */
export const listEntries = async (ctx: DlqContext, source?: string): Promise<DlqEntry[]> => {
  const topic = await readDeadLetterTopic(ctx.kafka);
  const sqs =
    source === 'kafka' || !ctx.sqs ? [] : await listSqsDeadLetters(ctx.sqs.client, ctx.sqs.queueUrl);
  for (const entry of sqs) {
    const replays = topic.replays.get(entry.id);
    if (replays) entry.replays = replays;
  }
  return [...(source === 'sqs' ? [] : topic.entries), ...sqs];
};

/** Who replays: the operator's name (CONSOLE_OPERATOR, else the OS user), recorded in the replay marker. */
export const operatorName = (): string => {
  if (process.env.CONSOLE_OPERATOR) return process.env.CONSOLE_OPERATOR;
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
};

/**
 * The consumer an SQS entry's function ARN names (`…:function:esante-<stage>-<name>[:qualifier]`, as
 * infra/names.ts builds it on AWS and locally), or the one given with --function.
 */
export const functionFor = (
  entry: Pick<DlqEntry, 'id' | 'failedBy'>,
  override?: string,
): ConsumerDefinition => {
  if (override) {
    const fn = consumerByName(override);
    if (!fn) throw new Error(`No consumer function named "${override}" in infra/consumers.ts`);
    return fn;
  }
  const parsed = parseFunctionName(entry.failedBy);
  const fn = parsed ? consumerByName(parsed.name) : undefined;
  if (!fn) throw new Error(`${entry.id}: no consumer function matches ${entry.failedBy}; use --function`);
  return fn;
};

/** Hands records to a function in-process, as its ESM would (an MSK event, a Lambda-like context). */
const invokeFunction = async (fn: ConsumerDefinition, records: RawRecord[], bootstrapServers: string) => {
  const handler = await loadHandler(fn.entry);
  const response = (await handler(
    toMskEvent(records, { eventSourceArn: LOCAL_CLUSTER_ARN, bootstrapServers }),
    lambdaContext(fn),
  )) as { batchItemFailures?: unknown[] } | undefined;
  return response?.batchItemFailures ?? [];
};

export const replayEntry = async (
  ctx: DlqContext,
  entry: DlqEntry,
  options: { function?: string; keep?: boolean; by?: string } = {},
): Promise<{ id: string; records: number; target: string; failures: number }> => {
  if (entry.ranges.length === 0) throw new Error(`${entry.id}: names no Kafka records to replay`);
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
    failures = (await invokeFunction(fn, records, bootstrap)).length;
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
        // The origin header keeps the record's first coordinates (a copy it already carries wins): the eventId
        // of a seed-shaped record is derived from them, so the replay is the same event, not a new one.
        const headers: Record<string, Buffer> = {
          'dlq-replay-of': Buffer.from(entry.id),
          [ORIGIN_HEADER]: Buffer.from(originOf(r.topic, r.partition, r.offset)),
        };
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
  if (failures === 0) {
    await markReplayed(ctx.kafka, {
      replayOf: entry.id,
      at: new Date().toISOString(),
      by: options.by ?? operatorName(),
      target,
    });
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
        // An error message should never quote a payload; if a careless one does, its PHI is not printed.
        const reason = e.letter ? scrub(e.reason, phiValuesOf([originalRecord(e.letter)])) : e.reason;
        const where = e.ranges.map(
          (r) => `${r.topic}-${r.partition}@${r.first}${r.last === r.first ? '' : `..${r.last}`}`,
        );
        const replayed = e.replays?.length
          ? `\treplayed ${e.replays.length}x, last ${e.replays.at(-1)?.at}`
          : '';
        ctx.print(`${e.id}\t${e.timestamp}\t${where.join(',')}\t${e.failedBy}\t${reason}${replayed}`);
      }
      ctx.print(`${entries.length} dead letter(s)`);
      return 0;
    case 'show': {
      const entry = pick(ids[0] ?? '');
      const raw = await recordsOf(ctx.kafka, entry);
      const { letter: _letter, sqs, ...summary } = entry;
      const text = JSON.stringify(
        { ...summary, onFailure: sqs?.body, records: describeRecords(raw, values['show-phi']) },
        null,
        2,
      );
      // The PHI fields are replaced field by field; the scrub also catches their values quoted elsewhere.
      ctx.print(values['show-phi'] ? text : scrub(text, phiValuesOf(raw)));
      return 0;
    }
    case 'replay': {
      if (!values.all && ids.length === 0) throw new Error('replay needs entry ids or --all');
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

/** While `npm start` runs, the endpoints it wrote fill in what the environment does not set (as for invoke). */
const loadStartEnv = (): void => {
  if (!existsSync(START_ENV_FILE)) return;
  for (const [name, value] of Object.entries(parseEnv(readFileSync(START_ENV_FILE, 'utf8')))) {
    if (process.env[name] === undefined) process.env[name] = value;
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  loadStartEnv();
  const queueUrl = process.env[DEAD_LETTER_QUEUE.env];
  const sqs = queueUrl ? new SQSClient(awsClientConfig('sqs')) : undefined;
  const ctx: DlqContext = {
    kafka: await createKafka(),
    ...(sqs && queueUrl ? { sqs: { client: sqs, queueUrl } } : {}),
    print: (line) => console.log(line),
  };
  try {
    process.exitCode = await main(process.argv.slice(2), ctx);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  } finally {
    // A function replayed in-process may have opened the shared producer and the cached AWS/DLQ clients.
    await sharedProducer.disconnect().catch(() => undefined);
    await resetClients();
    sqs?.destroy();
  }
}
