import { KafkaProducer } from '../../shared/kafka/producer.ts';

import { benchKafka } from './env.ts';
import { BENCH_TOPICS, metaFor, payloadFor } from './events.ts';
import { OUTSTANDING, PRODUCER_SETTINGS, windowed } from './producer.ts';

/**
 * Row 5's child process (run with --expose-gc): connects our producer, publishes a warm-up, forces GC and
 * reads RSS/heap ("before"), publishes `events` more events, flushes, forces GC and reads again ("after").
 * Prints one JSON line. Arguments: <brokers> <events> <warmup>.
 */
const [brokers = '', eventsArg = '1000000', warmupArg = '10000'] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const reading = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  const mib = (n: number) => n / 2 ** 20;
  return {
    rssMiB: mib(m.rss),
    heapUsedMiB: mib(m.heapUsed),
    externalMiB: mib(m.external),
    arrayBuffersMiB: mib(m.arrayBuffers),
  };
};

const topic = BENCH_TOPICS.producer;
const producer = new KafkaProducer({
  kafka: benchKafka(brokers.split(',')),
  handleSignals: false,
  ...PRODUCER_SETTINGS,
});
await producer.connect();

/** A caller that keeps a bounded number of publishes outstanding (as the throughput row does). */
const publishMany = async (from: number, count: number): Promise<void> => {
  await windowed(count, OUTSTANDING, (i) => producer.publish(topic, payloadFor(topic, i), metaFor(i)), from);
  await producer.flush();
};

const warmup = Number(warmupArg);
const events = Number(eventsArg);
await publishMany(0, warmup);
const before = reading();
let peakRssMiB = before.rssMiB;
/** RSS every second (no GC forced), to tell a plateau from steady growth. */
const rssTimeline: { s: number; rssMiB: number }[] = [];
const sampler = setInterval(() => {
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  peakRssMiB = Math.max(peakRssMiB, rssMiB);
  rssTimeline.push({ s: Math.round((performance.now() - start) / 100) / 10, rssMiB: Math.round(rssMiB) });
}, 1000);
const start = performance.now();
await publishMany(warmup, events);
const ms = performance.now() - start;
clearInterval(sampler);
const after = reading();
await producer.disconnect();
console.log(JSON.stringify({ events, warmup, ms, before, after, peakRssMiB, rssTimeline }));
