import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { badInput } from '../../faults/bad-input.ts';
import { brokerKills } from '../../faults/broker-kills.ts';
import { consumerKills } from '../../faults/consumer-kills.ts';
import { downstream } from '../../faults/downstream.ts';
import { LogTap } from '../../faults/log-tap.ts';
import type { ScenarioResult } from '../../faults/report.ts';
import { type FaultStack, startFaultStack } from '../../faults/stack.ts';

/**
 * Short versions of `npm run test:faults` (test/faults/): the same scenarios on the same real parts, with
 * fewer events and one fault each. They assert the invariants (0 lost, 0 duplicate effects, each corpus case
 * dead-lettered with its reason, no PHI in any log line) and leave the timings to the full run.
 * The stack has its own broker, since one scenario SIGKILLs it.
 */
const failed = (result: ScenarioResult) => result.checks.filter((c) => !c.ok);

// The PHI check reads this process's log lines too, at DEBUG as the child processes log (the rest of the run
// is silent, vitest.config.ts). Set before the logger is built: a warm invocation puts back its first level.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
});

describe('fault injection (short runs)', () => {
  let stack: FaultStack;
  const tap = new LogTap(['Audit entry already present']);

  beforeAll(async () => {
    tap.tapProcess(false);
    stack = await startFaultStack({ ownBroker: true, tap });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await tap.release();
  }, 120_000);

  it('loses and duplicates nothing when the broker is SIGKILLed and restarted during publishing', async () => {
    const result = await brokerKills(stack, {
      events: 600,
      kills: 1,
      perSecond: 60,
      catchUpTimeoutMs: 120_000,
    });

    expect(failed(result)).toEqual([]);
    expect(result.figures).toContainEqual(['Lost (resolved, no audit entry)', 0]);
    expect(result.figures).toContainEqual(['Duplicate audit entries', 0]);
  }, 240_000);

  it('loses no audit entry or e-mail, and sends one twice only after a takeover on record, when the ESM process is SIGKILLed mid-batch', async () => {
    const result = await consumerKills(stack, {
      events: 300,
      emails: 30,
      kills: 1,
      // A bound, not a timing check: recovery waits out Kafka's 30 s session timeout, then the backlog
      // through dynalite, and a delivery claim held by the killed run for its 120 s lease.
      catchUpTimeoutMs: 200_000,
    });

    expect(failed(result)).toEqual([]);
    expect(result.figures).toContainEqual(['Lost audit entries', 0]);
    expect(result.figures).toContainEqual(['Missing e-mails', 0]);
    expect(result.figures).toContainEqual(['Duplicate e-mails without a takeover on record', 0]);
  }, 320_000);

  it('dead-letters every bad record with its reason without blocking the partition, and publish() rejects it', async () => {
    const result = await badInput(stack, { rounds: 1, assertTiming: false, dlqTimeoutMs: 60_000 });

    expect(failed(result)).toEqual([]);
  }, 180_000);

  it('dead-letters nothing while DynamoDB, then SES, is down, and processes everything once, in order, when it returns', async () => {
    const result = await downstream(stack, {
      outageMs: 5_000,
      others: 20,
      doctors: 5,
      catchUpTimeoutMs: 120_000,
    });

    expect(failed(result)).toEqual([]);
    expect(result.figures).toContainEqual(['Dead-lettered to esante.dlq', 0]);
    expect(result.figures).toContainEqual(['Duplicate e-mails', 0]);
  }, 240_000);

  it('writes no PHI value to any log line of the runs, child processes included', () => {
    expect(tap.lines).toBeGreaterThan(100);
    expect(tap.leaks).toEqual([]);
  });
});
