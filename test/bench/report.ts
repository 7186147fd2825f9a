import type { CompressionResult } from './compression.ts';
import type { ReadThroughput } from './consumer.ts';
import type { MachineInfo } from './env.ts';
import type { JavaConsumerResult, JavaProducerResult, KafkaE2eResult } from './kafka-tools.ts';
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
  producer: ProducerRows;
  consumer: {
    utility: ReadThroughput[];
    /** Raw kafkajs eachBatch on the same records. */
    raw: ReadThroughput[];
    /** Kafka's ConsumerPerformance on the same records. */
    java: JavaConsumerResult[];
    esmAudit: ReadThroughput[];
    esmNoop: ReadThroughput[];
  };
  latency: LatencyRows;
  /** Rows 1 and 3 again on a broker behind a proxy adding `delayMs` each way (an MSK-like round trip). */
  rtt: { delayMs: number; producer: ProducerRows; latency: LatencyRows };
  lambda: LambdaResult;
  memory: MemoryResult;
  /** Row 6 (absent in runs before it existed). */
  compression?: CompressionResult[];
}

export interface ProducerRows {
  ours: Throughput[];
  raw: Throughput[];
  seedStyle: Throughput[];
  java: JavaProducerResult[];
}

export interface LatencyRows {
  ours: LatencyResult;
  kafka: KafkaE2eResult;
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

/** The e2e limit: 3 × Kafka's own p99 on the same broker + the ESM batching window + the producer linger. */
export const e2eLimit = (r: BenchResults, l: LatencyRows): number =>
  3 * l.kafka.p99Ms + r.settings.esmBatchingWindowMs + r.settings.producer.lingerMs;

export const goals = (r: BenchResults): Goal[] => {
  const p = r.producer;
  const q = r.rtt.producer;
  const c = r.consumer;
  const out: Goal[] = [
    goal(1, 'ours/raw', pairedRatio(p.ours, p.raw), 0.9, 'min', 2),
    // On the loopback the seed style's round trip is ≈ 1 ms; the goal is stated for an MSK-like one (rtt).
    goal(1, 'ours/seed-style', pairedRatio(p.ours, p.seedStyle), Number.NaN, 'report', 1),
    goal(1, 'ours/Java', pairedRatio(p.ours, p.java), Number.NaN, 'report', 2),
    goal(1, 'rtt ours/raw', pairedRatio(q.ours, q.raw), Number.NaN, 'report', 2),
    goal(1, 'rtt ours/seed-style', pairedRatio(q.ours, q.seedStyle), 10, 'min', 1),
    goal(1, 'rtt ours/Java', pairedRatio(q.ours, q.java), Number.NaN, 'report', 2),
    goal(2, 'utility/raw eachBatch', pairedRatio(c.utility, c.raw), Number.NaN, 'report', 2),
    goal(2, 'utility/Java', pairedRatio(c.utility, c.java), Number.NaN, 'report', 2),
    // The audit function's store path against the emulator's own rate (a no-op function), same records.
    goal(2, 'audit/no-op', perSecond(c.esmAudit) / perSecond(c.esmNoop), 0.25, 'min', 2),
    goal(3, 'e2e p99 (ms)', r.latency.ours.p99Ms, e2eLimit(r, r.latency), 'max', 0),
    goal(3, 'rtt e2e p99 (ms)', r.rtt.latency.ours.p99Ms, e2eLimit(r, r.rtt.latency), 'max', 0),
  ];
  for (const f of r.lambda.functions) goal4(out, `${f.name} bundle (KB)`, f.deployedBytes / 1024, 300);
  for (const c of r.lambda.coldInit) {
    // A bare handler is not a function's floor (it loads no SDK client): where a floor is measured, the goal
    // is against it and the bare ratio is reported.
    const floor = r.lambda.floors?.find((f) => f.name === c.name);
    const bare = c.initMs / r.lambda.bare.initMs;
    out.push(
      goal(4, `${c.name} cold init / bare`, bare, floor ? Number.NaN : 2, floor ? 'report' : 'max', 2),
    );
    if (floor) out.push(goal(4, `${c.name} cold init / floor`, c.initMs / floor.initMs, 1.3, 'max', 2));
  }
  out.push(goal(5, 'producer RSS growth after plateau (%)', r.memory.ours.rssGrowthPct, 5, 'max', 1));
  out.push(goal(5, 'peak RSS ours/raw', r.memory.peakRatio, 1.1, 'max', 2));
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

/** The table: one line per comparison, every row beside its peer from the same run. */
export const tableRows = (r: BenchResults): TableRow[] => {
  const gs = goals(r);
  const find = (name: string) => gs.find((g) => g.name === name);
  const rows: TableRow[] = [];
  const add = (row: TableRow) => rows.push(row);
  const ratioRow = (
    row: string,
    measure: string,
    ours: string,
    peer: string,
    ratioName: string,
    goalName: string,
    goalText?: string,
  ) => {
    const g = find(goalName);
    add({
      row,
      measure,
      ours,
      peer,
      ratio: `${ratioName} ${fmt(g?.value ?? Number.NaN)}`,
      goal: goalText ?? g?.text ?? '',
      met: verdict(g),
    });
  };

  const producerRows = (p: ProducerRows, where: string, prefix: string, seedGoal: string) => {
    const ours = `publish: ${fmt(perSecond(p.ours))}`;
    const measure = `Producer throughput${where}, events/s (median of ${p.ours.length} rounds; ratio = median of per-round ratios)`;
    ratioRow(
      '1',
      measure,
      ours,
      `raw kafkajs sendBatch: ${fmt(perSecond(p.raw))}`,
      'ours/raw',
      `${prefix}ours/raw`,
    );
    ratioRow(
      '1',
      measure,
      ours,
      `seed-style awaited send: ${fmt(perSecond(p.seedStyle))}`,
      'ours/seed',
      `${prefix}ours/seed-style`,
      seedGoal,
    );
    ratioRow(
      '1',
      measure,
      ours,
      `Java ProducerPerformance: ${fmt(perSecond(p.java))}`,
      'ours/Java',
      `${prefix}ours/Java`,
      'as high as possible',
    );
  };
  const rttWhere = ` through a ${r.rtt.delayMs} ms-each-way proxy`;
  producerRows(r.producer, ' on the loopback', '', 'report (goal is at an MSK-like round trip)');
  producerRows(r.rtt.producer, rttWhere, 'rtt ', find('rtt ours/seed-style')?.text ?? '');

  const c = r.consumer;
  const records = `${fmt(c.utility[0]?.records ?? Number.NaN)} records`;
  const utility = `consumer utility: ${fmt(perSecond(c.utility))}`;
  ratioRow(
    '2',
    `Consumer throughput, records/s (${records}, from the first record handed over)`,
    utility,
    `raw kafkajs eachBatch: ${fmt(perSecond(c.raw))}`,
    'utility/raw',
    'utility/raw eachBatch',
    'report',
  );
  ratioRow(
    '2',
    `Consumer throughput, records/s (${records}, from the first record handed over)`,
    utility,
    `Java ConsumerPerformance (fetch.nMsg.sec): ${fmt(perSecond(c.java))}`,
    'utility/Java',
    'utility/Java',
    'report',
  );
  const audit = perSecond(c.esmAudit);
  const noop = perSecond(c.esmNoop);
  add({
    row: '2',
    measure: `Consumer throughput, records/s (${records}; audit column stops at ${fmt(c.esmAudit[0]?.records ?? Number.NaN)})`,
    ours: `emulator + audit + DynamoDB: ${fmt(audit)}`,
    peer: `emulator + no-op function: ${fmt(noop)}`,
    ratio: `audit/no-op ${fmt(audit / noop)}`,
    goal: '≥ 0.25',
    met: verdict(find('audit/no-op')),
  });

  const latencyRow = (l: LatencyRows, where: string, goalName: string) => {
    const g = find(goalName);
    add({
      row: '3',
      measure: `E2E latency publish → audit entry readable${where}, ms (${fmt(l.ours.offeredPerSecond)} events/s, ${fmt(l.ours.events)} events)`,
      ours: `p50 ${fmt(l.ours.p50Ms)} / p95 ${fmt(l.ours.p95Ms)} / p99 ${fmt(l.ours.p99Ms)}`,
      peer: `Kafka EndToEndLatency p50 ${fmt(l.kafka.p50Ms)} / p99 ${fmt(l.kafka.p99Ms)} / p99.9 ${fmt(l.kafka.p999Ms)}`,
      ratio: `p99 ${fmt(l.ours.p99Ms)} vs 3×${fmt(l.kafka.p99Ms)} + ${r.settings.esmBatchingWindowMs} + ${r.settings.producer.lingerMs}`,
      goal: g?.text ?? '',
      met: verdict(g),
    });
  };
  latencyRow(r.latency, ' on the loopback', 'e2e p99 (ms)');
  latencyRow(r.rtt.latency, rttWhere, 'rtt e2e p99 (ms)');

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
  for (const ci of r.lambda.coldInit) {
    const g = find(`${ci.name} cold init / bare`);
    add({
      row: '4',
      measure: `Cold init, ms (median of ${ci.runs} fresh processes): ${ci.name}`,
      ours: `${fmt(ci.initMs)} (import ${fmt(ci.importMs)})`,
      peer: `bare handler: ${fmt(r.lambda.bare.initMs)} (import ${fmt(r.lambda.bare.importMs)})`,
      ratio: `${fmt(g?.value ?? Number.NaN)}× bare`,
      goal: g?.kind === 'report' ? 'report (the goal is against the floor, next row)' : '≤ 2× bare',
      met: verdict(g),
    });
    const floor = r.lambda.floors?.find((f) => f.name === ci.name);
    const gFloor = find(`${ci.name} cold init / floor`);
    if (floor) {
      add({
        row: '4',
        measure: `Cold init against its floor (the SDK clients it uses, nothing else): ${ci.name}`,
        ours: `${fmt(ci.initMs)}`,
        peer: `floor: ${fmt(floor.initMs)} (import ${fmt(floor.importMs)})`,
        ratio: `${fmt(gFloor?.value ?? Number.NaN)}× floor`,
        goal: '≤ 1.3× floor',
        met: verdict(gFloor),
      });
    }
  }

  const m = r.memory;
  const gGrowth = find('producer RSS growth after plateau (%)');
  add({
    row: '5',
    measure: `Producer RSS after GC over ${fmt(m.ours.events)} events after a ${fmt(m.ours.warmup)}-event warm-up (${m.ours.plateau ? 'plateau reached' : 'warm-up cap reached before a plateau'}), MiB`,
    ours: `RSS ${fmt(m.ours.before.rssMiB, 1)} → ${fmt(m.ours.after.rssMiB, 1)}`,
    peer: `heapUsed ${fmt(m.ours.before.heapUsedMiB, 1)} → ${fmt(m.ours.after.heapUsedMiB, 1)}`,
    ratio: `RSS ${m.ours.rssGrowthPct >= 0 ? '+' : ''}${fmt(m.ours.rssGrowthPct, 1)} %`,
    goal: gGrowth ? `≤ +${fmt(gGrowth.limit, 0)} %` : '',
    met: verdict(gGrowth),
  });
  const gPeak = find('peak RSS ours/raw');
  add({
    row: '5',
    measure: `Peak RSS (getrusage maxrss), warm-up + ${fmt(m.ours.events)} events each, MiB`,
    ours: `publish: ${fmt(m.ours.peakRssMiB, 1)}`,
    peer: `raw kafkajs sendBatch: ${fmt(m.raw.peakRssMiB, 1)}`,
    ratio: `ours/raw ${fmt(m.peakRatio)}`,
    goal: gPeak?.text ?? '',
    met: verdict(gPeak),
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
