import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { useOwnBroker } from '../helpers/own-broker.ts';

/** Runs a command to completion; returns its exit code and everything it printed. */
const run = (args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; out: string }>((done) => {
    const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), args, { cwd: REPO_ROOT, env });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('close', (code) => done({ code, out }));
  });

/**
 * `npm start -- --demo --exit` end to end: local AWS servers of its own, topics, tables and queue provisioned,
 * the three consumers through the ESM emulator, the seed's two flows observed step by step. It uses an empty
 * broker, a fresh one started for this file (the run's shared broker holds other tests' records, which the
 * consumer groups would first work through).
 */
describe('npm start -- --demo --exit', () => {
  const broker = useOwnBroker();
  it('plays both seed flows, prints every step without PHI and exits 0', { timeout: 240_000 }, async () => {
    // Prepare
    // The audit anchor's schedule at a second instead of an hour, so the run shows it at work.
    const env = {
      ...process.env,
      PORT: '0',
      KAFKA_BROKERS: broker.brokers(),
      AUDIT_DIGEST_EVERY_SECONDS: '1',
    };
    // Act
    const { code, out } = await run(['--import', 'tsx', 'infra/local/start.ts', '--demo', '--exit'], env);
    // Assess
    expect(out).toContain('Demo complete: every step was observed.');
    expect(code).toBe(0);
    for (const step of [
      /→ published appointment\.appointment\.requested/,
      /← consumed by notification\s+appointment\.appointment\.requested/,
      /✉ notification sent to doc-\w+ via email \(appointment\.requested/,
      /✉ notification sent to pat-\w+ via in_app \(appointment\.confirmed/,
      /✎ audit entry written for appointment\.appointment\.confirmed/,
      /← consumed by consultation-drafts appointment\.appointment\.completed/,
      /✚ consultation draft \S+ created for appointment apt-\w+-2; published medical\.consultation\.created/,
      /✉ notification sent to pat-\w+ via email \(consultation\.available/,
      /SES accepted 1 e-mail\(s\) for doc-\w+ and 2 for pat-\w+/,
      /Audit anchor: a digest every 1 s/,
      /Audit digest #\d+: [1-9]\d* chain\(s\), [1-9]\d* entr\(ies\)/,
    ]) {
      expect(out).toMatch(step);
    }
    // The demo's synthetic addresses and free text never reach the output.
    expect(out).not.toMatch(/@example\.org/);
    expect(out).not.toContain('"reason"');
  });
});
