/**
 * `node --import tsx test/bench/zod-construction.ts [runs]`: the CPU it takes to build the MSK event schemas of
 * shared/lambda/msk-event.ts with zod's classic API, beside the same schemas with `zod/mini`, each in fresh
 * processes (interleaved), after zod itself is loaded. Row 4's profile puts the schemas built at import at
 * ≈ 9.6 ms of a function's cold init, the MSK event ones most of it; this says what `zod/mini` would save.
 * The schemas are copied as they stood on 2026-11-30 (importing msk-event.ts would time its other imports too).
 */
import { spawnSync } from 'node:child_process';
import { median } from './stats.ts';

const CLASSIC = `import * as z from 'zod';
const t0 = process.cpuUsage();
const record = z.object({
  topic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  timestamp: z.number(),
  timestampType: z.enum(['CREATE_TIME', 'LOG_APPEND_TIME']),
  key: z.string().nullish(),
  value: z.string().nullish(),
  headers: z.array(z.record(z.string(), z.array(z.number().int().min(0).max(255)))).default([]),
});
globalThis.schema = z.object({
  eventSource: z.enum(['aws:kafka', 'SelfManagedKafka']),
  eventSourceArn: z.string().optional(),
  bootstrapServers: z.string().optional(),
  records: z.record(z.string(), z.array(record)),
});
const t = process.cpuUsage(t0);
console.log((t.user + t.system) / 1000);`;

const MINI = `import * as z from 'zod/mini';
const t0 = process.cpuUsage();
const record = z.object({
  topic: z.string().check(z.minLength(1)),
  partition: z.number().check(z.int(), z.nonnegative()),
  offset: z.number().check(z.int(), z.nonnegative()),
  timestamp: z.number(),
  timestampType: z.enum(['CREATE_TIME', 'LOG_APPEND_TIME']),
  key: z.nullish(z.string()),
  value: z.nullish(z.string()),
  headers: z._default(
    z.array(z.record(z.string(), z.array(z.number().check(z.int(), z.minimum(0), z.maximum(255))))),
    [],
  ),
});
globalThis.schema = z.object({
  eventSource: z.enum(['aws:kafka', 'SelfManagedKafka']),
  eventSourceArn: z.optional(z.string()),
  bootstrapServers: z.optional(z.string()),
  records: z.record(z.string(), z.array(record)),
});
const t = process.cpuUsage(t0);
console.log((t.user + t.system) / 1000);`;

const runs = Number(process.argv[2] ?? 21);
const cpuMs = (source: string): number => {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`schema child failed: ${out.stderr}`);
  return Number(out.stdout.trim());
};
const classic: number[] = [];
const mini: number[] = [];
for (let i = 0; i < runs; i++) {
  classic.push(cpuMs(CLASSIC));
  mini.push(cpuMs(MINI));
}
console.log(
  `MSK event schemas built, CPU ms (median of ${runs} fresh processes): zod ${median(classic).toFixed(2)}, zod/mini ${median(mini).toFixed(2)} (${(median(mini) / median(classic)).toFixed(2)}×)`,
);
