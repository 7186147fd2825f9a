/**
 * `node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 --import tsx
 * test/bench/encode-cost.ts`: what one 1 KB event
 * costs before kafkajs sees it, no broker. Our `encodeEvent` (validate, envelope, key, headers) beside row 1's
 * raw peer building the same value and headers by hand (`rawMessage`), and the bench's own event generation:
 * time per event, and bytes allocated per event on the JavaScript heap (read with a young generation large
 * enough that no collection runs during a loop).
 */
import { encodeEvent } from '../../shared/events/envelope.ts';
import { BENCH_TOPICS, metaFor, payloadFor } from './events.ts';
import { rawMessage } from './producer.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const topic = BENCH_TOPICS.producer;
const peers: [string, (i: number) => unknown][] = [
  ['event generation (payload, meta)', (i) => [payloadFor(topic, i), metaFor(i)]],
  ['raw peer (rawMessage)', (i) => rawMessage(i)],
  ['ours (encodeEvent)', (i) => encodeEvent(topic, payloadFor(topic, i), metaFor(i))],
];
for (let round = 0; round < 3; round++) {
  for (const [name, build] of peers) {
    for (let i = 0; i < 20_000; i++) build(i);
    const timed = 200_000;
    const start = performance.now();
    for (let i = 0; i < timed; i++) build(i);
    const us = ((performance.now() - start) * 1000) / timed;
    gc();
    const counted = 5_000;
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < counted; i++) build(i);
    const bytes = (process.memoryUsage().heapUsed - before) / counted;
    console.log(
      `round ${round + 1} ${name}: ${us.toFixed(2)} µs, ${Math.round(bytes)} B allocated per event`,
    );
  }
}
