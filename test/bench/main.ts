import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { consumerByName } from '../../infra/consumers.ts';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { TABLES } from '../../infra/resources.ts';
import { recordRetryEnv } from '../../shared/lambda/settings.ts';
import { analysisText } from './analysis.ts';
import { benchCompression, compressionTable } from './compression.ts';
import {
  auditHandler,
  benchConsumerUtility,
  benchEsm,
  benchRawEachBatch,
  CONSUMER_TOPIC,
  noopHandler,
  prefill,
} from './consumer.ts';
import { BENCH_DIR, type BenchBroker, machineInfo, startBenchBroker, startBenchDynamo } from './env.ts';
import { BENCH_TOPICS, encodedFor } from './events.ts';
import { javaConsumerPerformance, javaProducerPerformance, kafkaEndToEndLatency } from './kafka-tools.ts';
import { benchLambda } from './lambda.ts';
import { benchLatency } from './latency.ts';
import { benchMemory, memoryAtPeak } from './memory.ts';
import {
  benchOurs,
  benchOursSharded,
  benchPlatformatic,
  benchRaw,
  benchSeedStyle,
  PRODUCER_SETTINGS,
  type Throughput,
} from './producer.ts';
import { type BenchResults, goals, machineText, markdownTable, pairedRatio, tableRows } from './report.ts';

/**
 * The bench itself (run.ts sets the environment first). `npm run bench` (full run, writes docs/benchmarks.{md,json,png}) and `npm run bench -- --quick` (a smoke
 * run with small counts, written to .local/bench/quick unless --out says otherwise). One local broker of its
 * own, every row beside its peer, one table on stdout.
 */
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    render: { type: 'string' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    runs: { type: 'string' },
  },
});
const quick = args.quick === true;
const outDir =
  args.out ??
  (args.render ? dirname(args.render) : quick ? join(BENCH_DIR, 'quick') : join(REPO_ROOT, 'docs'));

/**
 * Counts per mode: the full run takes about 20 minutes on a quiet 2-core machine (the memory row's two
 * million-event children are most of the growth), the quick run a few minutes.
 */
const SIZES = quick
  ? {
      rounds: 1,
      producerEvents: 5_000,
      seedEvents: 300,
      javaRecords: 10_000,
      consumerRecords: 1_000,
      auditRecords: 1_000,
      latency: { perSecond: 50, seconds: 4 },
      kafkaE2eMessages: 200,
      coldInitRuns: 3,
      memory: { events: 20_000, chunk: 2_000, maxWarmup: 10_000 },
      rtt: { delayMs: 1, rounds: 1, producerEvents: 3_000, seedEvents: 100, javaRecords: 5_000 },
      compressionEvents: 5_000,
    }
  : {
      rounds: 5,
      producerEvents: 50_000,
      seedEvents: 3_000,
      javaRecords: 300_000,
      consumerRecords: 10_000,
      auditRecords: 3_000,
      latency: { perSecond: 50, seconds: 30 },
      kafkaE2eMessages: 2_000,
      coldInitRuns: 15,
      // Warm-up in chunks of 50,000 until RSS after GC grows < 1 % over three in a row (the plateau was reached after
      // ≈ 130,000 events in earlier runs), capped at 500,000.
      memory: { events: 1_000_000, chunk: 50_000, maxWarmup: 500_000 },
      // The MSK-like rows: every request through a proxy adding 1 ms each way (a 2 ms round trip).
      rtt: { delayMs: 1, rounds: 3, producerEvents: 20_000, seedEvents: 1_000, javaRecords: 100_000 },
      compressionEvents: 10_000,
    };

// --rounds N: fewer (or more) interleaved rounds than the mode's, for a quick before/after with --only.
if (args.rounds !== undefined) SIZES.rounds = Number(args.rounds);
// --runs N: fresh processes per package for row 4's cold init (more than the mode's 15 on a busy machine).
if (args.runs !== undefined) SIZES.coldInitRuns = Number(args.runs);

const step = (what: string) => console.error(`[bench] ${new Date().toISOString().slice(11, 19)} ${what}`);

/** Row 1's producer peers in interleaved rounds on one broker (the loopback one or the delayed one). */
const producerRounds = async (
  broker: BenchBroker,
  sizes: { rounds: number; producerEvents: number; seedEvents: number; javaRecords: number },
  label: string,
): Promise<BenchResults['producer']> => {
  const { kafka, brokers } = broker;
  const producer: BenchResults['producer'] = { ours: [], raw: [], seedStyle: [], java: [] };
  // A first, unmeasured round of every peer warms the JIT and the broker for all alike. With 5,000 events
  // of the Node peers alone, round 1 was the slowest round of every peer, Java's too, and whoever ran first
  // there had its lowest ratio (three runs in five, on 2026-11-30).
  await benchOurs(kafka, sizes.producerEvents);
  await benchRaw(kafka, sizes.producerEvents);
  await benchSeedStyle(kafka, sizes.seedEvents);
  await javaProducerPerformance(brokers, sizes.javaRecords);
  for (let round = 0; round < sizes.rounds; round++) {
    // Alternate who goes first, so neither Node peer always runs right after the JVM or the other.
    if (round % 2 === 0) {
      producer.ours.push(await benchOurs(kafka, sizes.producerEvents));
      producer.raw.push(await benchRaw(kafka, sizes.producerEvents));
    } else {
      producer.raw.push(await benchRaw(kafka, sizes.producerEvents));
      producer.ours.push(await benchOurs(kafka, sizes.producerEvents));
    }
    producer.seedStyle.push(await benchSeedStyle(kafka, sizes.seedEvents));
    const java = await javaProducerPerformance(brokers, sizes.javaRecords);
    producer.java.push(java);
    step(
      `  ${label} round ${round + 1}: ours ${Math.round(producer.ours.at(-1)?.perSecond ?? 0)}/s, raw ${Math.round(producer.raw.at(-1)?.perSecond ?? 0)}/s, seed ${Math.round(producer.seedStyle.at(-1)?.perSecond ?? 0)}/s, java ${Math.round(java.perSecond)}/s`,
    );
  }
  return producer;
};

/**
 * --only ROW: one row by itself, printed (and written to .local/bench/<row>.json), docs untouched; a
 * before/after check of one change, each figure beside its peer in the same run.
 * - compression: row 6;
 * - producer: row 1 on the loopback (ours, raw kafkajs sendBatch, the seed's awaited send, ProducerPerformance);
 * - audit: the emulator driving the audit function into DynamoDB beside the emulator driving a no-op;
 * - e2e: publish → audit entry beside Kafka's EndToEndLatency (row 3, loopback);
 * - memory: row 5, our producer's child process then raw kafkajs's (the mode's event counts).
 */
const ONLY_ROWS = ['compression', 'producer', 'audit', 'e2e', 'lambda', 'memory'] as const;
if (args.only === 'lambda') {
  // Row 4 needs no broker: each function's cold init beside the bare handler and its own floor.
  step(`row 4: Lambda bundles and cold init (${SIZES.coldInitRuns} runs each, interleaved)`);
  const lambda = await benchLambda(SIZES.coldInitRuns);
  const lines = lambda.coldInit.map((c) => {
    const floor = lambda.floors?.find((f) => f.name === c.name);
    const cpu =
      floor?.cpuMs && c.cpuMs
        ? ` (CPU ${c.cpuMs.toFixed(0)} / ${floor.cpuMs.toFixed(0)} ms, ${(c.cpuMs / floor.cpuMs).toFixed(2)}×)`
        : '';
    return `${c.name}: ${c.initMs.toFixed(0)} ms, ${(c.initMs / lambda.bare.initMs).toFixed(2)}× bare${floor ? `, floor ${floor.initMs.toFixed(0)} ms, ${(c.initMs / floor.initMs).toFixed(2)}× floor${cpu}` : ''}`;
  });
  await mkdir(BENCH_DIR, { recursive: true });
  await writeFile(join(BENCH_DIR, 'lambda.json'), `${JSON.stringify(lambda, null, 2)}\n`);
  console.log(`\nrow 4 (bare ${lambda.bare.initMs.toFixed(0)} ms): ${lines.join('; ')}\n`);
  process.exit(0);
}
if (args.only !== undefined) {
  const only = args.only as (typeof ONLY_ROWS)[number];
  if (!ONLY_ROWS.includes(only)) throw new Error(`--only knows ${ONLY_ROWS.join(', ')}, not "${args.only}"`);
  const broker = await startBenchBroker();
  const dynamo = only === 'audit' || only === 'e2e' ? await startBenchDynamo() : undefined;
  const print = async (result: unknown, text: string) => {
    await mkdir(BENCH_DIR, { recursive: true });
    await writeFile(join(BENCH_DIR, `${only}.json`), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\n${text}\n`);
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  try {
    if (only === 'compression') {
      step(`row 6: compression (${SIZES.compressionEvents} events × ${SIZES.rounds} rounds per codec)`);
      const rows = await benchCompression(
        broker.kafka,
        broker.brokers,
        SIZES.compressionEvents,
        SIZES.rounds,
        step,
      );
      const valueBytes = Buffer.byteLength(encodedFor(BENCH_TOPICS.producer, 0).value);
      await print(rows, compressionTable(rows, valueBytes));
    } else if (only === 'memory') {
      step(`row 5: producer memory, ours then raw kafkajs (${SIZES.memory.events} events after the warm-up)`);
      const m = await benchMemory(broker.brokers, SIZES.memory);
      const line = (r: typeof m.ours) =>
        `peak RSS ${r.peakRssMiB.toFixed(1)} MiB (at the highest sample: ${memoryAtPeak(r)}), warm-up ${r.warmup}${r.plateau ? '' : ' (no plateau)'}, growth ${r.rssGrowthPct.toFixed(1)} %`;
      await print(
        m,
        `row 5: peak RSS ours/raw ${m.peakRatio.toFixed(2)}\n  ours: ${line(m.ours)}\n  raw:  ${line(m.raw)}`,
      );
    } else if (only === 'producer') {
      step('row 1: producer throughput (interleaved rounds, loopback)');
      const p = await producerRounds(broker, SIZES, 'loopback');
      const rate = (xs: { perSecond: number }[]) => Math.round(median(xs.map((x) => x.perSecond)));
      step('row 1 levers: our producer sharded over disjoint partitions (2 and 3 requests in flight)');
      const sharded: Record<'one' | 'two' | 'three' | 'raw' | 'platformatic', Throughput[]> = {
        one: [],
        two: [],
        three: [],
        raw: [],
        platformatic: [],
      };
      for (let round = 0; round < SIZES.rounds; round++) {
        sharded.one.push(await benchOurs(broker.kafka, SIZES.producerEvents));
        sharded.two.push(await benchOursSharded(broker.kafka, SIZES.producerEvents, 2));
        sharded.three.push(await benchOursSharded(broker.kafka, SIZES.producerEvents, 3));
        sharded.raw.push(await benchRaw(broker.kafka, SIZES.producerEvents));
        sharded.platformatic.push(await benchPlatformatic(broker.brokers, SIZES.producerEvents));
      }
      console.log(
        `\nrow 1 levers (median of ${SIZES.rounds}): one producer ${rate(sharded.one)}/s; 2 sharded ${rate(sharded.two)}/s (×${pairedRatio(sharded.two, sharded.one).toFixed(2)}); 3 sharded ${rate(sharded.three)}/s (×${pairedRatio(sharded.three, sharded.one).toFixed(2)}); raw kafkajs sendBatch ${rate(sharded.raw)}/s; @platformatic/kafka send, same batches ${rate(sharded.platformatic)}/s (×${pairedRatio(sharded.platformatic, sharded.raw).toFixed(2)} of raw kafkajs); Java ${rate(p.java)}/s`,
      );
      await print(
        { ...p, sharded },
        `row 1 (median of ${SIZES.rounds}): ours ${rate(p.ours)}/s, raw sendBatch ${rate(p.raw)}/s (ours/raw ${pairedRatio(p.ours, p.raw).toFixed(2)}), seed-style ${rate(p.seedStyle)}/s, Java ${rate(p.java)}/s (ours/Java ${(rate(p.ours) / rate(p.java)).toFixed(2)})`,
      );
    } else {
      const audit = consumerByName('audit');
      if (!audit || !dynamo) throw new Error('infra/consumers.ts has no audit consumer');
      Object.assign(process.env, dynamo.env, {
        [TABLES.audit.env]: TABLES.audit.name,
        KAFKA_BROKERS: broker.brokers.join(','),
        ...recordRetryEnv(audit.recordRetry),
      });
      const handler = await auditHandler();
      if (only === 'audit') {
        step('emulator + audit + DynamoDB beside emulator + no-op');
        const total = await prefill(broker.kafka, SIZES.consumerRecords);
        const esmAudit: { perSecond: number }[] = [];
        const esmNoop: { perSecond: number }[] = [];
        for (let round = 0; round < SIZES.rounds; round++) {
          esmNoop.push(await benchEsm(broker.kafka, broker.brokers, total, noopHandler(), 300_000));
          await dynamo.resetAuditTable();
          esmAudit.push(
            await benchEsm(broker.kafka, broker.brokers, total, handler, 300_000, SIZES.auditRecords),
          );
          step(
            `  round ${round + 1}: no-op ${Math.round(esmNoop.at(-1)?.perSecond ?? 0)}/s, audit ${Math.round(esmAudit.at(-1)?.perSecond ?? 0)}/s`,
          );
        }
        await print(
          { esmAudit, esmNoop, batchSize: audit.batchSize, windowSeconds: audit.maxBatchingWindowSeconds },
          `audit row (batch size ${audit.batchSize}, window ${audit.maxBatchingWindowSeconds} s): audit ${Math.round(median(esmAudit.map((x) => x.perSecond)))}/s, no-op ${Math.round(median(esmNoop.map((x) => x.perSecond)))}/s, audit/no-op ${pairedRatio(esmAudit, esmNoop).toFixed(3)}`,
        );
      } else {
        step('publish → audit entry beside EndToEndLatency');
        const ours = await benchLatency(broker.kafka, broker.brokers, handler, SIZES.latency);
        const valueBytes = Buffer.byteLength(encodedFor(BENCH_TOPICS.latency, 0).value);
        const kafka = await kafkaEndToEndLatency(
          broker.kafka,
          broker.brokers,
          SIZES.kafkaE2eMessages,
          valueBytes,
        );
        const windowMs = audit.maxBatchingWindowSeconds * 1000;
        const limit = 3 * kafka.p99Ms + windowMs + PRODUCER_SETTINGS.lingerMs;
        await print(
          { ours, kafka, windowMs, limitMs: limit },
          `e2e row (window ${windowMs} ms): ours p50 ${ours.p50Ms.toFixed(0)} p99 ${ours.p99Ms.toFixed(0)} ms, Kafka p99 ${kafka.p99Ms.toFixed(1)} ms, limit 3×Kafka p99 + window + linger = ${limit.toFixed(0)} ms; p99 − window = ${(ours.p99Ms - windowMs).toFixed(0)} ms; per invocation (median) ${median((ours.invocations ?? []).map((i) => i.records))} records, started ${(median((ours.invocations ?? []).map((i) => i.startedAfterMs)) - windowMs).toFixed(0)} ms after the oldest one's send + window, handler ${median((ours.invocations ?? []).map((i) => i.handlerMs)).toFixed(0)} ms`,
        );
      }
    }
  } finally {
    await dynamo?.stop();
    await broker.stop();
  }
  process.exit(0);
}

const started = new Date();
const t0 = performance.now();
const command = quick ? 'npm run bench -- --quick' : 'npm run bench';
step(`${command}: output to ${relative(REPO_ROOT, outDir) || '.'}`);

const measure = async (): Promise<BenchResults> => {
  const machine = await machineInfo();
  step('row 4: Lambda bundles and cold init');
  const lambda = await benchLambda(SIZES.coldInitRuns);

  const audit = consumerByName('audit');
  if (!audit) throw new Error('infra/consumers.ts has no audit consumer');
  step('local DynamoDB');
  const dynamo = await startBenchDynamo();
  let failed = false;
  /** Points the audit function's environment (as the emulator's caller provides it) at a broker. */
  const auditEnv = (brokers: string[]) =>
    Object.assign(process.env, dynamo.env, {
      [TABLES.audit.env]: TABLES.audit.name,
      KAFKA_BROKERS: brokers.join(','),
      ...recordRetryEnv(audit.recordRetry),
    });
  const latencyValueBytes = Buffer.byteLength(encodedFor(BENCH_TOPICS.latency, 0).value);
  try {
    step('starting the bench broker (loopback)');
    let broker = await startBenchBroker();
    let loopback: Omit<
      BenchResults,
      'rtt' | 'mode' | 'command' | 'startedAt' | 'durationS' | 'machine' | 'settings' | 'lambda'
    >;
    try {
      const { kafka, brokers } = broker;
      step('row 1: producer throughput (interleaved rounds)');
      const producer = await producerRounds(broker, SIZES, 'loopback');

      step('row 6: producer compression');
      const compression = await benchCompression(kafka, brokers, SIZES.compressionEvents, SIZES.rounds, step);

      step('row 5: producer memory, ours then raw kafkajs (child processes)');
      const memory = await benchMemory(brokers, SIZES.memory);

      auditEnv(brokers);
      const handler = await auditHandler();

      step('row 2: consumer throughput');
      const total = await prefill(kafka, SIZES.consumerRecords);
      const timeoutMs = 300_000;
      const consumer: BenchResults['consumer'] = {
        utility: [],
        raw: [],
        java: [],
        esmAudit: [],
        esmNoop: [],
      };
      for (let round = 0; round < SIZES.rounds; round++) {
        consumer.utility.push(await benchConsumerUtility(kafka, total, timeoutMs));
        consumer.raw.push(await benchRawEachBatch(kafka, total, timeoutMs));
        consumer.java.push(await javaConsumerPerformance(brokers, CONSUMER_TOPIC, total));
        consumer.esmNoop.push(await benchEsm(kafka, brokers, total, noopHandler(), timeoutMs));
        await dynamo.resetAuditTable();
        consumer.esmAudit.push(await benchEsm(kafka, brokers, total, handler, timeoutMs, SIZES.auditRecords));
        step(
          `  round ${round + 1}: utility ${Math.round(consumer.utility.at(-1)?.perSecond ?? 0)}/s, raw eachBatch ${Math.round(consumer.raw.at(-1)?.perSecond ?? 0)}/s, Java ${Math.round(consumer.java.at(-1)?.perSecond ?? 0)}/s, no-op ${Math.round(consumer.esmNoop.at(-1)?.perSecond ?? 0)}/s, audit ${Math.round(consumer.esmAudit.at(-1)?.perSecond ?? 0)}/s`,
        );
      }

      step('row 3: end-to-end latency');
      await dynamo.resetAuditTable();
      const ours = await benchLatency(kafka, brokers, handler, SIZES.latency);
      const kafkaE2e = await kafkaEndToEndLatency(kafka, brokers, SIZES.kafkaE2eMessages, latencyValueBytes);
      loopback = { producer, consumer, latency: { ours, kafka: kafkaE2e }, memory, compression };
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      step('stopping the loopback broker');
      await broker.stop(failed);
    }

    step(`starting the bench broker behind a ${SIZES.rtt.delayMs} ms-each-way proxy`);
    broker = await startBenchBroker({ delayMs: SIZES.rtt.delayMs });
    let rtt: BenchResults['rtt'];
    try {
      auditEnv(broker.brokers);
      step('rows 1 and 3 again, every request through the proxy');
      const producer = await producerRounds(broker, { ...SIZES.rtt }, 'proxied');
      await dynamo.resetAuditTable();
      const handler = await auditHandler();
      const ours = await benchLatency(broker.kafka, broker.brokers, handler, SIZES.latency);
      const kafkaE2e = await kafkaEndToEndLatency(
        broker.kafka,
        broker.brokers,
        SIZES.kafkaE2eMessages,
        latencyValueBytes,
      );
      rtt = { delayMs: broker.delayMs, producer, latency: { ours, kafka: kafkaE2e } };
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      step('stopping the proxied broker');
      await broker.stop(failed);
    }

    return {
      mode: quick ? 'quick' : 'full',
      command,
      startedAt: started.toISOString(),
      durationS: Math.round((performance.now() - t0) / 1000),
      machine,
      settings: {
        valueBytes: Buffer.byteLength(encodedFor(BENCH_TOPICS.producer, 0).value),
        producer: { ...PRODUCER_SETTINGS, acks: 'all' },
        esmBatchingWindowMs: audit.maxBatchingWindowSeconds * 1000,
        rounds: SIZES.rounds,
      },
      ...loopback,
      rtt,
      lambda,
    };
  } catch (error) {
    step(`failed; broker logs kept under ${relative(REPO_ROOT, BENCH_DIR)}`);
    throw error;
  } finally {
    await dynamo.stop();
  }
};

/** Which part of the run writes each row, and the command line of each Kafka tool peer. */
const ROW_COMMANDS = [
  'Row 1 (loopback): `benchOurs`, `benchRaw`, `benchSeedStyle` (test/bench/producer.ts) and `ProducerPerformance --topic appointment.appointment.requested --num-records N --payload-file .local/bench/payloads.txt --throughput -1 --producer-props bootstrap.servers=<broker> acks=all`.',
  'Row 1 (through the proxy): the same four, on the broker started by `startBenchBroker({ delayMs: 1 })` (test/bench/env.ts), `bootstrap.servers=<proxy>`.',
  'Row 2: `benchConsumerUtility`, `benchRawEachBatch`, `benchEsm` (test/bench/consumer.ts) and `ConsumerPerformance --bootstrap-server <broker> --topic medical.consultation.created --messages N --group <fresh> --timeout 60000 --hide-header`.',
  'Row 3 (loopback and through the proxy): `benchLatency` (test/bench/latency.ts) and `EndToEndLatency <broker> bench.e2e-latency N all <value bytes>`.',
  'Row 4: `benchLambda` (test/bench/lambda.ts).',
  'Row 5: `node --expose-gc --import tsx test/bench/memory-child.ts ours|raw <broker> <events> <chunk> <max warm-up>`, one child per sender (test/bench/memory.ts).',
];

// --render FILE: rewrite the table, markdown and chart from an earlier run's JSON without measuring.
const results: BenchResults = args.render
  ? (JSON.parse(await readFile(args.render, 'utf8')) as BenchResults)
  : await measure();
if (!results.rtt || !results.memory?.ours || !results.consumer.raw) {
  throw new Error(
    `${args.render}: a run from before the round-trip, consumer-peer and memory-plateau rows; measure again with npm run bench`,
  );
}
const table = markdownTable(tableRows(results));
console.log(`\n${table}\n`);

const missed = goals(results).filter((g) => !g.met);
await mkdir(outDir, { recursive: true });
const jsonFile = join(outDir, 'benchmarks.json');
await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);

/** How each row is measured, and dated profile notes: true of the code, not of one run's figures. */
const methods = await readFile(join(REPO_ROOT, 'test/bench/methods.md'), 'utf8');
const md = [
  '# Benchmarks',
  '',
  `Generated by \`${results.command}\` (test/bench/run.ts) on ${results.startedAt.slice(0, 10)} in ${results.durationS} s; raw figures in [benchmarks.json](benchmarks.json), chart in [benchmarks.png](benchmarks.png).`,
  '',
  '## Machine',
  '',
  machineText(results.machine),
  '',
  '## Results',
  '',
  `Events are catalog events of ${results.settings.valueBytes} bytes serialized (a clinical note in the PHI free-text field); acks=all everywhere; our producer with linger ${PRODUCER_SETTINGS.lingerMs} ms and at most ${PRODUCER_SETTINGS.maxBatchSize} events per request.`,
  '',
  table,
  '',
  '![Benchmarks](benchmarks.png)',
  '',
  ...(results.compression
    ? [
        '## Compression (row 6)',
        '',
        compressionTable(results.compression, results.settings.valueBytes),
        '',
        'Only this row: `npm run bench -- --only compression` (prints the table; `-- --quick` for small counts).',
        '',
      ]
    : []),
  '## Goals missed',
  '',
  missed.length === 0
    ? 'None.'
    : missed
        .map(
          (g) =>
            `- Row ${g.row}, ${g.name}: ${g.value.toFixed(2)} against ${g.text} (${g.kind === 'min' ? `${((1 - g.value / g.limit) * 100).toFixed(0)} % short` : `${((g.value / g.limit - 1) * 100).toFixed(0)} % over`}).`,
        )
        .join('\n'),
  '',
  analysisText(results),
  '## Commands',
  '',
  '```sh',
  'npm run bench            # full run (~20 min), rewrites docs/benchmarks.{md,json,png}',
  'npm run bench -- --quick # smoke run (a few minutes), writes .local/bench/quick/',
  'npm run bench -- --render docs/benchmarks.json # table, markdown and chart again from the raw figures',
  '```',
  '',
  'Every row above comes from the one command named at the top of this file; each peer ran in that same run:',
  '',
  ROW_COMMANDS.map((line) => `- ${line}`).join('\n'),
  '',
  methods.trim(),
  '',
].join('\n');
await writeFile(join(outDir, 'benchmarks.md'), md);

step('chart');
const chart = spawnSync(
  'python3',
  [join(REPO_ROOT, 'test/bench/chart.py'), jsonFile, join(outDir, 'benchmarks.png')],
  {
    encoding: 'utf8',
  },
);
if (chart.status !== 0) {
  const message = `chart not written: ${chart.stderr || chart.error?.message}`;
  if (!quick) throw new Error(message);
  step(message);
}
step(`done in ${results.durationS} s`);
