import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { demoPhi } from '../../infra/local/demo.ts';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import { useOwnBroker } from '../helpers/own-broker.ts';
import { fetchRecords } from '../integration/functions/kafka-io.ts';

/** Runs a command to completion; returns its exit code and every line it printed on stdout and stderr. */
const run = (args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; out: string }>((done) => {
    const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), args, { cwd: REPO_ROOT, env });
    let out = '';
    const append = (chunk: Buffer) => {
      out += chunk.toString();
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.on('close', (code) => done({ code, out }));
  });

/**
 * Issue 6, item 4 (the demo part): `npm start -- --demo --exit` publishes events carrying PHI-valued fields
 * (e-mail, first and last names, the appointment's reason); the functions consume, audit, notify and e-mail
 * on them; none of those values may reach the process's stdout or stderr. The run's broker
 * (KAFKA_BROKERS) is shared with the child, so the test also checks that the values really went through
 * the bus, i.e. that the assertion on the output is not vacuous.
 */
describe('npm start -- --demo --exit', () => {
  const broker = useOwnBroker();
  it('prints none of the PHI values its events carry', { timeout: 240_000 }, async () => {
    // Prepare
    // At DEBUG, the most talkative level: the test run itself is silent (vitest.config.ts).
    const env = { ...process.env, PORT: '0', KAFKA_BROKERS: broker.brokers(), POWERTOOLS_LOG_LEVEL: 'DEBUG' };

    // Act
    const { code, out } = await run(['--import', 'tsx', 'infra/local/start.ts', '--demo', '--exit'], env);

    // Assess
    expect(out).toContain('Demo complete: every step was observed.');
    expect(code).toBe(0);
    const runId = /Demo run (\S+):/.exec(out)?.[1];
    expect(runId).toBeDefined();
    const phi = Object.values(demoPhi(runId as string));
    const kafka = new Kafka({
      clientId: 'phi-logs-demo',
      brokers: broker.brokers().split(','),
      logLevel: logLevel.NOTHING,
    });
    const carried = await fetchRecords(
      kafka,
      TOPICS.USER_REGISTERED,
      (r) => r.value?.toString().includes(`-${runId}@example.org`) ?? false,
      2,
    );
    const requested = await fetchRecords(
      kafka,
      TOPICS.APPOINTMENT_REQUESTED,
      (r) => r.value?.toString().includes(`apt-${runId}`) ?? false,
      1,
    );
    const onTheBus = [...carried, ...requested].map((r) => r.value?.toString() ?? '').join('\n');
    for (const value of phi) expect(onTheBus).toContain(value);
    const leaks = out.split('\n').filter((line) => phi.some((value) => line.includes(value)));
    expect(leaks).toEqual([]);
  });
});
