import { resourceUsage } from 'node:process';
import { getHeapSpaceStatistics } from 'node:v8';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { benchKafka } from './env.ts';
import { BENCH_TOPICS, metaFor, payloadFor } from './events.ts';
import { OUTSTANDING, PRODUCER_SETTINGS, rawMessage, windowed } from './producer.ts';

/**
 * Row 5's child process (run with --expose-gc), one sender per process so each has its own RSS:
 * - `ours`: `KafkaProducer.publish` driven as in row 1 (2,000 outstanding);
 * - `raw`: kafkajs `sendBatch` of 500 hand-built messages (row 1's raw peer), the same events.
 * Warm-up: chunks of `chunk` events until RSS after GC grows less than PLATEAU_PCT over each of three
 * chunks in a row (the allocator and Buffer pools have reached their high water) or `maxWarmup` events
 * were sent. Then "before"
 * (GC, read), `events` more, flush, "after" (GC, read). Peak RSS is the kernel's high-water mark for the
 * whole process (getrusage maxrss). Prints one JSON line. Arguments: <mode> <brokers> <events> <chunk> <maxWarmup>.
 */
const [mode = 'ours', brokers = '', eventsArg = '1000000', chunkArg = '50000', maxWarmupArg = '500000'] =
  process.argv.slice(2);
if (mode !== 'ours' && mode !== 'raw') throw new Error(`mode must be ours or raw, not ${mode}`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

/** Growth over one warm-up chunk below which RSS counts as on its plateau. */
const PLATEAU_PCT = 1;

const mib = (n: number) => n / 2 ** 20;
const reading = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return {
    rssMiB: mib(m.rss),
    heapUsedMiB: mib(m.heapUsed),
    externalMiB: mib(m.external),
    arrayBuffersMiB: mib(m.arrayBuffers),
  };
};

const topic = BENCH_TOPICS.producer;
const kafka = benchKafka(brokers.split(','));

let send: (from: number, count: number) => Promise<void>;
let close: () => Promise<void>;
if (mode === 'ours') {
  const producer = new KafkaProducer({
    kafka,
    handleSignals: false,
    compression: 'none',
    ...PRODUCER_SETTINGS,
  });
  await producer.connect();
  send = async (from, count) => {
    await windowed(
      count,
      OUTSTANDING,
      (i) => producer.publish(topic, payloadFor(topic, i), metaFor(i)),
      from,
    );
    await producer.flush();
  };
  close = () => producer.disconnect();
} else {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  send = async (from, count) => {
    for (let sent = 0; sent < count; sent += PRODUCER_SETTINGS.maxBatchSize) {
      const n = Math.min(PRODUCER_SETTINGS.maxBatchSize, count - sent);
      const messages = Array.from({ length: n }, (_, j) => rawMessage(from + sent + j));
      await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
    }
  };
  close = () => producer.disconnect();
}

/**
 * What the heap and the Buffers held when RSS was highest, sampled every 100 ms from the start (no GC
 * forced): tells a peak of live data from one of garbage not yet collected, and JavaScript heap from Buffers.
 */
let atPeak = {
  rssMiB: 0,
  heapTotalMiB: 0,
  heapUsedMiB: 0,
  externalMiB: 0,
  arrayBuffersMiB: 0,
  /** The V8 heap's spaces (new: the young generation's semi-spaces), MiB committed. */
  spaces: {} as Record<string, number>,
};
const peakSampler = setInterval(() => {
  const m = process.memoryUsage();
  if (mib(m.rss) <= atPeak.rssMiB) return;
  atPeak = {
    rssMiB: mib(m.rss),
    heapTotalMiB: mib(m.heapTotal),
    heapUsedMiB: mib(m.heapUsed),
    externalMiB: mib(m.external),
    arrayBuffersMiB: mib(m.arrayBuffers),
    spaces: Object.fromEntries(
      getHeapSpaceStatistics()
        .filter((space) => space.space_size > 0)
        .map((space) => [space.space_name.replace(/_space$/, ''), Math.round(mib(space.space_size))]),
    ),
  };
}, 100);

const chunk = Number(chunkArg);
const maxWarmup = Number(maxWarmupArg);
const events = Number(eventsArg);
/** RSS after GC at the end of each warm-up chunk: the curve the plateau is read from. */
const warmupRss: number[] = [];
let warmup = 0;
let plateau = false;
/**
 * Consecutive chunks over which RSS grew less than PLATEAU_PCT: three in a row count as the plateau (with
 * two, one run of 2026-11-30 stepped up 15 MiB right after the warm-up stopped).
 */
let flat = 0;
/** Connected, nothing sent yet: the process's own floor (Node, the modules, kafkajs connected). */
const start = reading();
let last = start.rssMiB;
while (warmup < maxWarmup) {
  await send(warmup, chunk);
  warmup += chunk;
  const now = reading().rssMiB;
  warmupRss.push(Math.round(now * 10) / 10);
  flat = ((now - last) / last) * 100 < PLATEAU_PCT ? flat + 1 : 0;
  last = Math.max(last, now);
  if (flat >= 3) {
    plateau = true;
    break;
  }
}
const before = reading();
/** RSS every second (no GC forced), to tell a plateau from steady growth. */
const rssTimeline: { s: number; rssMiB: number }[] = [];
const t0 = performance.now();
const sampler = setInterval(() => {
  rssTimeline.push({
    s: Math.round((performance.now() - t0) / 100) / 10,
    rssMiB: Math.round(mib(process.memoryUsage().rss)),
  });
}, 1000);
await send(warmup, events);
const ms = performance.now() - t0;
clearInterval(sampler);
clearInterval(peakSampler);
const after = reading();
await close();
const peakRssMiB = resourceUsage().maxRSS / 1024;
console.log(
  JSON.stringify({
    mode,
    events,
    start,
    warmup,
    plateau,
    warmupRss,
    ms,
    before,
    after,
    peakRssMiB,
    atPeak,
    rssTimeline,
  }),
);
