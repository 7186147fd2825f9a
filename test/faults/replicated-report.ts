import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { passed, type ScenarioResult } from './report.ts';

/**
 * docs/reliability.md's section for the three-node scenarios (test/faults/replicated.ts): between two
 * markers, so a run of these scenarios rewrites only this section and a run of the others keeps it.
 */
export const SECTION_START =
  '<!-- three-node cluster: written by npm run test:faults -- --only replicated -->';
export const SECTION_END = '<!-- end of three-node cluster section -->';

const cell = (value: string | number) => String(value).replace(/\|/g, '\\|');
const table = (rows: string[][]): string[] => {
  const [head, ...body] = rows;
  if (!head) return [];
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
};

/** One scenario's subsection: its result, the run and command that produced it, the side-by-side table. */
export const scenarioMarkdown = (r: ScenarioResult, run: { startedAt: Date; command: string }): string =>
  [
    `### ${r.name}: ${passed(r) ? 'pass' : '**FAIL**'}`,
    '',
    `Run ${run.startedAt.toISOString()} on ${cpus().length} CPU(s), Node ${process.version}: \`${run.command}\`.`,
    '',
    ...table(r.table ?? []),
    '',
    ...table([['Figure', 'Value'], ...r.figures.map(([l, v]) => [l, String(v)])]),
    '',
    ...r.checks.map((c) => `- [${c.ok ? 'x' : ' '}] ${c.what}${c.detail ? ` (${c.detail})` : ''}`),
    ...(r.notes.length ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');

const INTRO = [
  "## Faults on a three-node cluster like MSK's, side by side with Kafka's own verifiable clients",
  '',
  'Commands: `npm run test:faults -- --only replicated` (20,000 events per scenario; `--scale 0.1` for a',
  'tenth; `--only kills`, `pause` or `isolation` for one scenario, which rewrites only its own subsection',
  'below). The cluster alone: `npm run kafka -- start --brokers 3`, which takes `kill N`, `restart N`,',
  '`pause N`, `resume N`, `isolate N`, `reconnect N` and `status` on stdin.',
  '',
  'The cluster (infra/local/kafka/cluster.ts) is three combined controller+broker KRaft nodes with the broker',
  'properties the CDK app gives MSK, read from infra/broker-config.ts: replication factor 3,',
  '`min.insync.replicas` 2, unclean leader election off. Every link between two nodes (replication and',
  'controller traffic, each direction) goes through a loopback proxy, which is how a node is cut off from its',
  'peers while clients still reach it. Each fault hits the node leading the most partitions being written.',
  'In each run our producer (`publish()`, acks=all, idempotent) feeds the ESM emulator and the audit function,',
  "and Kafka's `VerifiableProducer` (acks=all, idempotent) feeds `VerifiableConsumer`, at the same pace,",
  'through the same faults. "Lost" is an acknowledged write never consumed (for ours: no audit entry);',
  '"duplicated" is an audit entry written twice (ours) or a value read at two offsets (Kafka\'s).',
  'These scenarios run only in `npm run test:faults`: three JVMs take longer than a minute to start on a',
  'small machine, beyond what `npm test` allows a scenario; test/integration/kafka-cluster.test.ts checks',
  'the cluster itself (its broker properties, a SIGKILLed node back in every ISR).',
  '',
  'Findings, each fixed in shared/kafka/producer.ts (unit tests in test/unit/kafka/producer-*.test.ts):',
  '',
  '- Acknowledged events lost by the client library. Before the fix, a paused leader lost 161 acknowledged',
  '  events in one run and 10 in another, a cut-off leader 1 and 3 (2,000 events each), none of them ever on',
  "  Kafka, while Kafka's VerifiableProducer lost none in the same runs. kafkajs 2.2.4's sendMessages keeps",
  "  one response per broker across its internal retries: when a partition's leader moves to a broker that",
  "  already answered for other partitions, it returns success without sending that partition's messages.",
  '  The producer now checks the partitions written against the ones its keyed messages hash to and sends',
  '  the missing ones again before resolving (logged as "messages left unsent by the client"; it fired in',
  '  the runs below, which lost nothing).',
  "- After a leader change, kafkajs's idempotent producer could be left refusing every later send to a",
  '  partition with OUT_OF_ORDER_SEQUENCE_NUMBER (it has no epoch bump, unlike the Java client): the producer',
  '  now starts a fresh kafkajs producer (a new producer id) after that error.',
  "- Publishes rejected during leader elections. With kafkajs's retry count (8 retries doubling from 100 ms,",
  '  about 25 s), three leader kills rejected 1,011 of 20,000 publishes (run of 2026-11-30 13:50 UTC) where',
  "  Kafka's VerifiableProducer rejected none, and the last retries were up to 12.8 s apart (23.9 s without an",
  "  acknowledged write against Kafka's 14.5 s). Sends now retry at most 1 s apart for a delivery timeout of",
  "  120 s, as the Java client's `delivery.timeout.ms` (producer-retry.test.ts).",
  '- A hung leader held up every partition. kafkajs answers a `sendBatch` only when every broker in it has,',
  "  so a paused leader kept the healthy brokers' partitions waiting until it woke (22.2 s without an",
  "  acknowledged write against Kafka's 13.9 s, run of 13:16 UTC). The producer now keeps one request in flight per",
  '  leader, a partition in one request at most (producer-lanes.test.ts; order per key across three leaders',
  '  in test/integration/kafka-cluster.test.ts).',
  '',
].join('\n');

/** The whole section: the introduction, then one subsection per scenario, in `order`. */
export const replicatedMarkdown = (subsections: Map<string, string>, order: string[]): string =>
  [
    SECTION_START,
    INTRO,
    ...order.filter((name) => subsections.has(name)).map((name) => subsections.get(name) as string),
    ...[...subsections.keys()]
      .filter((name) => !order.includes(name))
      .map((name) => subsections.get(name) as string),
    SECTION_END,
  ].join('\n');

/** The subsections of an existing section, by scenario name (the `### <name>: result` heading). */
export const parseSubsections = (section: string): Map<string, string> => {
  const found = new Map<string, string>();
  const body = section.replace(SECTION_START, '').replace(SECTION_END, '');
  for (const part of body.split(/^(?=### )/m).slice(1)) {
    const name = /^### (.*?): (?:pass|\*\*FAIL\*\*)$/m.exec(part)?.[1];
    if (name) found.set(name, `${part.trimEnd()}\n`);
  }
  return found;
};

/** The marked section of `text`, or '' when it has none. */
export const replicatedSection = (text: string): string => {
  const start = text.indexOf(SECTION_START);
  const end = text.indexOf(SECTION_END);
  return start >= 0 && end > start ? text.slice(start, end + SECTION_END.length) : '';
};

/** Replaces the marked section of `file` with `section` (appends it when there is none), leaving the rest. */
export const writeReplicatedSection = async (file: string, section: string): Promise<void> => {
  const text = existsSync(file) ? await readFile(file, 'utf8') : '';
  const old = replicatedSection(text);
  const next = old ? text.replace(old, section) : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(file, next);
};
