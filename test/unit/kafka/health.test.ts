import { describe, expect, it } from 'vitest';
import {
  type ConsumerHealth,
  consumerProblems,
  StallTracker,
  stallBoundMs,
} from '../../../shared/kafka/health.ts';

const consumer = (over: Partial<ConsumerHealth> = {}): ConsumerHealth => ({
  name: 'audit',
  groupId: 'audit-service',
  state: 'running',
  lag: { 'appointment.appointment.requested': 0 },
  stalled: [],
  ...over,
});

describe('StallTracker', () => {
  it('counts the time a partition keeps lag without its committed offset moving', () => {
    const tracker = new StallTracker();
    expect(tracker.observe('g/t/0', '10', 5, 1_000)).toBe(0);
    expect(tracker.observe('g/t/0', '10', 7, 61_000)).toBe(60_000);
    expect(tracker.observe('g/t/0', '10', 7, 301_000)).toBe(300_000);
  });

  it('starts over when the offset moves or the lag drops to 0', () => {
    const tracker = new StallTracker();
    tracker.observe('g/t/0', '10', 5, 0);
    expect(tracker.observe('g/t/0', '12', 5, 100_000)).toBe(0);
    expect(tracker.observe('g/t/0', '12', 0, 200_000)).toBe(0);
    // Records after an idle spell: counted from the first check that saw them, not from the last commit.
    expect(tracker.observe('g/t/0', '12', 3, 900_000)).toBe(0);
    expect(tracker.observe('g/t/0', '12', 3, 960_000)).toBe(60_000);
  });

  it('keeps partitions and groups apart', () => {
    const tracker = new StallTracker();
    tracker.observe('a/t/0', '1', 1, 0);
    tracker.observe('a/t/1', '1', 1, 0);
    expect(tracker.observe('a/t/0', '2', 1, 10)).toBe(0);
    expect(tracker.observe('a/t/1', '1', 1, 10)).toBe(10);
    expect(tracker.observe('b/t/0', '1', 1, 10)).toBe(0);
  });
});

describe('consumerProblems (the unhealthy rule)', () => {
  it('is silent while every consumer runs and nothing is stalled', () => {
    expect(
      consumerProblems([consumer(), consumer({ name: 'notification', groupId: 'notification-service' })]),
    ).toBe(undefined);
    expect(consumerProblems([])).toBe(undefined);
  });

  it('names each consumer that is not running, with the class of its last crash', () => {
    const problem = consumerProblems([
      consumer({ state: 'restarting', lastError: { errorClass: 'KafkaJSNonRetriableError', at: 'now' } }),
      consumer({
        name: 'consultation-drafts',
        groupId: 'medical-records-service',
        state: 'stopped',
        reason: 'USER_INITIATED',
      }),
    ]);
    expect(problem).toBe(
      'consumer audit (group audit-service) is restarting after KafkaJSNonRetriableError; ' +
        'consumer consultation-drafts (group medical-records-service) is stopped (USER_INITIATED)',
    );
  });

  it('names a running consumer with a stalled partition', () => {
    const problem = consumerProblems([
      consumer({ stalled: [{ topic: 'user.user.registered', partition: 2, lag: 14, forSeconds: 312 }] }),
    ]);
    expect(problem).toBe(
      'consumer audit (group audit-service) has not moved on user.user.registered[2] for 312 s with lag 14',
    );
  });
});

describe('stallBoundMs (KAFKA_HEALTH_STALL_SECONDS)', () => {
  it('defaults to 300 s and reads seconds', () => {
    expect(stallBoundMs({})).toBe(300_000);
    expect(stallBoundMs({ KAFKA_HEALTH_STALL_SECONDS: '45' })).toBe(45_000);
  });

  it('rejects a value that is not a positive number, naming it', () => {
    expect(() => stallBoundMs({ KAFKA_HEALTH_STALL_SECONDS: 'five' })).toThrow(
      /KAFKA_HEALTH_STALL_SECONDS.*"five"/,
    );
    expect(() => stallBoundMs({ KAFKA_HEALTH_STALL_SECONDS: '0' })).toThrow(/positive/);
  });
});
