import type { CompressionResult } from './compression.ts';
import type { ReadThroughput } from './consumer.ts';
import type { MachineInfo } from './env.ts';
import type { JavaProducerResult, KafkaE2eResult } from './kafka-tools.ts';
import type { LambdaResult } from './lambda.ts';
import type { LatencyResult } from './latency.ts';
import type { MemoryResult } from './memory.ts';
import type { Throughput } from './producer.ts';
import { fmt, median } from './stats.ts';

/** Everything one run measured: the raw figures (docs/benchmarks.json) the table is built from. */
export interface BenchResults {
  mode: 'full' | 'quick';
  command: string;
  startedAt: string;
  durationS: number;
  machine: MachineInfo;
  settings: {
    valueBytes: number;
    producer: { lingerMs: number; maxBatchSize: number; acks: 'all' };
    esmBatchingWindowMs: number;
    rounds: number;
  };
  producer: {
    ours: Throughput[];
    raw: Throughput[];
    seedStyle: Throughput[];
    java: JavaProducerResult[];
  };
  consumer: { utility: ReadThroughput[]; esmAudit: ReadThroughput[]; esmNoop: ReadThroughput[] };
  latency: { ours: LatencyResult; kafka: KafkaE2eResult };
  lambda: LambdaResult;
  memory: MemoryResult;
  /** Row 6 (absent in runs before it existed). */
  compression?: CompressionResult[];
}

export interface Goal {
  row: number;
  name: string;
  value: number;
  limit: number;
  /** 'max': value ≤ limit is met; 'min': value ≥ limit is met; 'report': no limit. */
  kind: 'min' | 'max' | 'report';
  met: boolean;
  text: string;
}

export interface TableRow {
  row: string;
  measure: string;
  ours: string;
  peer: string;
  ratio: string;
  goal: string;
  met: string;
}

const perSecond = (xs: { perSecond: number }[]) => median(xs.map((x) => x.perSecond));
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;

/** The figures the goals are judged on, each with its limit. */
/**
 * Ratios are medians of the per-round ratios: the peers of one round ran back to back, so a paired ratio
 * cancels most of the drift of a shared machine that a ratio of medians would keep.
 */
export const pairedRatio = (a: { perSecond: number }[], b: { perSecond: number }[]): number =>
  median(a.map((x, i) => x.perSecond / (b[i]?.perSecond ?? Number.NaN)));

export const goals = (r: BenchResults): Goal[] => {
  const p = r.producer;
  const e2eLimit = 3 * r.latency.kafka.p99Ms + r.settings.esmBatchingWindowMs + r.settings.producer.lingerMs;
  const out: Goal[] = [
    goal(1, 'ours/raw', pairedRatio(p.ours, p.raw), 0.9, 'min', 2),
    goal(1, 'ours/seed-style', pairedRatio(p.ours, p.seedStyle), 10, 'min', 1),
    goal(1, 'ours/Java', pairedRatio(p.ours, p.java), Number.NaN, 'report', 2),
    goal(3, 'e2e p99 (ms)', r.latency.ours.p99Ms, e2eLimit, 'max', 0),
  ];
  for (const f of r.lambda.functions) goal4(out, `${f.name} bundle (KB)`, f.deployedBytes / 1024, 300);
  for (const c of r.lambda.coldInit) {
    out.push(goal(4, `${c.name} cold init / bare`, c.initMs / r.lambda.bare.initMs, 2, 'max', 2));
  }
  out.push(goal(5, 'producer RSS growth (%)', r.memory.rssGrowthPct, 10, 'max', 1));
  return out;
};

const goal4 = (out: Goal[], name: string, value: number, limit: number) =>
  out.push(goal(4, name, value, limit, 'max', 1));

const goal = (
  row: number,
  name: string,
  value: number,
  limit: number,
  kind: Goal['kind'],
  digits: number,
): Goal => {
  const met = kind === 'report' ? true : kind === 'min' ? value >= limit : value <= limit;
  const text =
    kind === 'report'
      ? 'report'
      : `${kind === 'min' ? '≥' : '≤'} ${fmt(limit, kind === 'max' && limit > 100 ? 0 : digits)}`;
  return { row, name, value, limit, kind, met, text };
};

const verdict = (g: Goal | undefined): string =>
  !g ? '—' : g.kind === 'report' ? 'reported' : g.met ? 'yes' : 'NO';

/** The table: one line per comparison, every line of the five rows. */
export const tableRows = (r: BenchResults): TableRow[] => {
  const gs = goals(r);
  const find = (name: string) => gs.find((g) => g.name === name);
  const ours = perSecond(r.producer.ours);
  const rounds = `median of ${r.producer.ours.length} rounds; ratio = median of per-round ratios`;
  const rows: TableRow[] = [];
  const add = (row: TableRow) => rows.push(row);
  const g1 = find('ours/raw');
  add({
    row: '1',
    measure: `Producer throughput, events/s (${rounds})`,
    ours: `publish: ${fmt(ours)}`,
    peer: `raw kafkajs sendBatch: ${fmt(perSecond(r.producer.raw))}`,
    ratio: `ours/raw ${fmt(g1?.value ?? Number.NaN)}`,
    goal: g1?.text ?? '',
    met: verdict(g1),
  });
  const g2 = find('ours/seed-style');
  add({
    row: '1',
    measure: `Producer throughput, events/s (${rounds})`,
    ours: `publish: ${fmt(ours)}`,
    peer: `seed-style send: ${fmt(perSecond(r.producer.seedStyle))}`,
    ratio: `ours/seed ${fmt(g2?.value ?? Number.NaN)}`,
    goal: g2?.text ?? '',
    met: verdict(g2),
  });
  const g3 = find('ours/Java');
  add({
    row: '1',
    measure: `Producer throughput, events/s (${rounds})`,
    ours: `publish: ${fmt(ours)}`,
    peer: `Java ProducerPerformance: ${fmt(perSecond(r.producer.java))}`,
    ratio: `ours/Java ${fmt(g3?.value ?? Number.NaN)}`,
    goal: 'as high as possible',
    met: verdict(g3),
  });
  const utility = perSecond(r.consumer.utility);
  const audit = perSecond(r.consumer.esmAudit);
  const noop = perSecond(r.consumer.esmNoop);
  add({
    row: '2',
    measure: `Consumer throughput, records/s (${fmt(r.consumer.utility[0]?.records ?? Number.NaN)} records)`,
    ours: `consumer utility: ${fmt(utility)}`,
    peer: `emulator + audit + DynamoDB: ${fmt(audit)}; emulator + no-op: ${fmt(noop)}`,
    ratio: `audit/no-op ${fmt(audit / noop)}`,
    goal: 'report',
    met: 'reported',
  });
  const l = r.latency.ours;
  const k = r.latency.kafka;
  const g4 = find('e2e p99 (ms)');
  add({
    row: '3',
    measure: `E2E latency publish → audit entry readable, ms (${fmt(l.offeredPerSecond)} events/s, ${fmt(l.events)} events)`,
    ours: `p50 ${fmt(l.p50Ms)} / p95 ${fmt(l.p95Ms)} / p99 ${fmt(l.p99Ms)}`,
    peer: `Kafka EndToEndLatency p50 ${fmt(k.p50Ms)} / p99 ${fmt(k.p99Ms)} / p99.9 ${fmt(k.p999Ms)}`,
    ratio: `p99 ${fmt(l.p99Ms)} vs 3×${fmt(k.p99Ms)} + ${r.settings.esmBatchingWindowMs} + ${r.settings.producer.lingerMs}`,
    goal: g4?.text ?? '',
    met: verdict(g4),
  });
  for (const f of r.lambda.functions) {
    const g = find(`${f.name} bundle (KB)`);
    add({
      row: '4',
      measure: `Lambda bundle: ${f.name} (layer external)`,
      ours: `${kb(f.deployedBytes)} (minified ${kb(f.minifiedBytes)})`,
      peer: `layer: ${kb(r.lambda.layer.deployedBytes)} (minified ${kb(r.lambda.layer.minifiedBytes)})`,
      ratio: `${kb(f.deployedBytes)}`,
      goal: '≤ 300 KB',
      met: verdict(g),
    });
  }
  for (const c of r.lambda.coldInit) {
    const g = find(`${c.name} cold init / bare`);
    add({
      row: '4',
      measure: `Cold init, ms (median of ${c.runs} fresh processes): ${c.name}`,
      ours: `${fmt(c.initMs)} (import ${fmt(c.importMs)})`,
      peer: `bare handler: ${fmt(r.lambda.bare.initMs)} (import ${fmt(r.lambda.bare.importMs)})`,
      ratio: `${fmt(g?.value ?? Number.NaN)}× bare`,
      goal: '≤ 2× bare',
      met: verdict(g),
    });
  }
  const m = r.memory;
  const g5 = find('producer RSS growth (%)');
  add({
    row: '5',
    measure: `Producer memory over ${fmt(m.events)} events, MiB (after GC)`,
    ours: `RSS ${fmt(m.before.rssMiB, 1)} → ${fmt(m.after.rssMiB, 1)} (peak ${fmt(m.peakRssMiB, 1)})`,
    peer: `heapUsed ${fmt(m.before.heapUsedMiB, 1)} → ${fmt(m.after.heapUsedMiB, 1)}`,
    ratio: `RSS ${m.rssGrowthPct >= 0 ? '+' : ''}${fmt(m.rssGrowthPct, 1)} %`,
    goal: '≤ +10 %',
    met: verdict(g5),
  });
  return rows;
};

const HEAD: TableRow = {
  row: 'Row',
  measure: 'Measure',
  ours: 'Ours',
  peer: 'Beside it',
  ratio: 'Ratio / figure',
  goal: 'Goal',
  met: 'Met',
};

export const markdownTable = (rows: TableRow[]): string => {
  const line = (r: TableRow) =>
    `| ${[r.row, r.measure, r.ours, r.peer, r.ratio, r.goal, r.met].map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(HEAD), '| --- | --- | --- | --- | --- | --- | --- |', ...rows.map(line)].join('\n');
};

export const machineText = (m: MachineInfo): string =>
  [
    `- CPU: ${m.cpuModel}, ${m.cores} cores; memory ${m.memoryGiB} GiB`,
    `- OS: ${m.os}`,
    `- Node ${m.node} (npm package \`node\`), kafkajs ${m.kafkajs}`,
    `- Kafka ${m.kafka} (single KRaft broker, Maven-fetched, on 127.0.0.1), ${m.java}`,
  ].join('\n');
