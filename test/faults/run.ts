/**
 * `npm run test:faults` — the fault-injection runs against the real local stack, full size:
 *   broker kills, consumer kills, the bad-input corpus, failing downstream (DynamoDB, SES) on one broker;
 *   leader kills, a leader paused, a leader cut off from its peers on a three-node cluster (`replicated`:
 *   kills,pause,isolation), side by side with Kafka's verifiable clients;
 * with every log line of the runs searched for PHI. Prints each run's figures and writes them to
 * docs/reliability.md (the three-node scenarios to their own section). Exit code 0 when every invariant held.
 *
 *   npm run test:faults [-- --only broker,consumer,corpus,downstream,kills,pause,isolation] [--scale 0.1]
 *     [--no-write]      (`--only replicated` = kills,pause,isolation)
 *
 * With --only, docs/reliability.md keeps the other scenarios' sections and gets the new ones in place.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_DIR, REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { logger } from '../../shared/log.ts';
import { badInput } from './bad-input.ts';
import { brokerKills } from './broker-kills.ts';
import { consumerKills } from './consumer-kills.ts';
import { downstream } from './downstream.ts';
import { LogTap } from './log-tap.ts';
import { REPLICATED_NAMES, type ReplicatedFault, replicatedScenario } from './replicated.ts';
import {
  parseSubsections,
  replicatedMarkdown,
  replicatedSection,
  scenarioMarkdown,
  writeReplicatedSection,
} from './replicated-report.ts';
import {
  mergeReliability,
  passed,
  printResult,
  reliabilityMarkdown,
  type ScenarioResult,
  writeReliability,
} from './report.ts';
import { startFaultStack } from './stack.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    scale: { type: 'string', default: '1' },
    'no-write': { type: 'boolean', default: false },
  },
});
const only = new Set(
  (values.only ?? 'broker,consumer,corpus,downstream,replicated')
    .replace('replicated', 'kills,pause,isolation')
    .split(','),
);
const REPLICATED: [key: string, fault: ReplicatedFault][] = [
  ['kills', 'leader-kills'],
  ['pause', 'leader-pause'],
  ['isolation', 'isolation'],
];
const scale = Number(values.scale);
const n = (full: number, least = 1) => Math.max(least, Math.round(full * scale));
const say = (line: string) => console.log(line);

const main = async (): Promise<number> => {
  const startedAt = new Date();
  const tap = new LogTap(['Audit entry already present'], join(LOCAL_DIR, 'faults', 'run.log'));
  tap.tapProcess();
  logger.setLogLevel('DEBUG');
  const results: ScenarioResult[] = [];
  const singleBroker = ['broker', 'consumer', 'corpus', 'downstream'].some((k) => only.has(k));
  const stack = singleBroker ? await startFaultStack({ ownBroker: true, tap }) : undefined;
  try {
    if (stack && only.has('broker')) {
      say('Broker kills ...');
      results.push(await brokerKills(stack, { events: n(20_000, 100), kills: 2 }));
      printResult(results.at(-1) as ScenarioResult, say);
    }
    if (stack && only.has('consumer')) {
      say('Consumer kills ...');
      results.push(await consumerKills(stack, { events: n(4_000, 100), emails: n(400, 10), kills: 2 }));
      printResult(results.at(-1) as ScenarioResult, say);
    }
    if (stack && only.has('corpus')) {
      say('Bad-input corpus ...');
      results.push(await badInput(stack, { rounds: n(3) }));
      printResult(results.at(-1) as ScenarioResult, say);
    }
    if (stack && only.has('downstream')) {
      say('Failing downstream ...');
      results.push(await downstream(stack, { outageMs: 30_000, others: n(500, 20), doctors: n(100, 5) }));
      printResult(results.at(-1) as ScenarioResult, say);
    }
  } finally {
    await stack?.stop();
  }
  const replicated: ScenarioResult[] = [];
  const replicatedStartedAt = new Date();
  const chosen = REPLICATED.filter(([key]) => only.has(key));
  const clusterStack = chosen.length
    ? await startFaultStack({ ownBroker: true, ownCluster: true, tap })
    : undefined;
  try {
    for (const [key, fault] of chosen) {
      if (!clusterStack) break;
      say(`Three-node cluster: ${key} ...`);
      replicated.push(
        await replicatedScenario(clusterStack, {
          fault,
          events: n(20_000, 200),
          progress: (line) => say(`  ${line}`),
        }),
      );
      printResult(replicated.at(-1) as ScenarioResult, say);
    }
  } finally {
    await clusterStack?.stop();
    await tap.release();
  }
  results.push(...replicated);
  const phi = { lines: tap.lines, leaks: tap.leaks };
  say(`\n== No PHI in logs: ${phi.leaks.length === 0 ? 'PASS' : 'FAIL'}`);
  say(
    `  ${phi.lines} log lines scanned (child processes and this one), ${phi.leaks.length} with a PHI value`,
  );
  for (const leak of phi.leaks.slice(0, 10)) say(`  leak: ${leak.slice(0, 200)}`);
  if (!values['no-write']) {
    const file = join(REPO_ROOT, 'docs', 'reliability.md');
    const kept = replicatedSection(await readFile(file, 'utf8').catch(() => ''));
    const singles = results.filter((r) => !replicated.includes(r));
    if (singles.length) {
      const run = { startedAt, durationMs: Date.now() - startedAt.getTime(), phi };
      // A run of some scenarios (--only) replaces only their sections; a full run rewrites the file.
      await writeReliability(
        file,
        values.only && existsSync(file)
          ? mergeReliability(readFileSync(file, 'utf8'), singles, run)
          : reliabilityMarkdown(singles, run),
      );
      if (kept) await writeReplicatedSection(file, kept);
    }
    if (replicated.length) {
      // Each scenario rewrites its own subsection; the others keep the figures of their last run.
      const command = `npm run test:faults -- --only ${chosen.map(([k]) => k).join(',')}${scale === 1 ? '' : ` --scale ${scale}`}`;
      const subsections = parseSubsections(replicatedSection(await readFile(file, 'utf8').catch(() => '')));
      for (const r of replicated)
        subsections.set(r.name, scenarioMarkdown(r, { startedAt: replicatedStartedAt, command }));
      await writeReplicatedSection(file, replicatedMarkdown(subsections, REPLICATED_NAMES));
    }
    say(`\nFigures written to ${file}`);
  }
  return results.every(passed) && phi.leaks.length === 0 ? 0 : 1;
};

// Ctrl-C: exit through process.exit, so the JVMs this run started are killed with it (jvm.ts killOnExit).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `test:faults failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
