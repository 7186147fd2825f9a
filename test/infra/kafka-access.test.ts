import { describe, expect, it } from 'vitest';
import { awsConsumerGroupId, domainOf, topicPatterns } from '../../infra/constructs/kafka-access.ts';

const catalog = [
  'appointment.requested',
  'appointment.confirmed',
  'appointment.cancelled',
  'user.registered',
  'referral.created',
  'referral.accepted',
  'esante.dlq',
];

describe('topicPatterns (the names a Kafka grant carries)', () => {
  it('collapses a domain whose every topic is wanted into <domain>.*', () => {
    expect(
      topicPatterns(['appointment.cancelled', 'appointment.confirmed', 'appointment.requested'], catalog),
    ).toEqual(['appointment.*']);
  });

  it('keeps each topic of a partly wanted domain by name, and a single-topic domain by name', () => {
    expect(topicPatterns(['referral.created', 'user.registered', 'appointment.requested'], catalog)).toEqual([
      'appointment.requested',
      'referral.created',
      'user.registered',
    ]);
  });

  it('never covers a topic it was not asked for', () => {
    // Act: every subset of the catalog
    for (let mask = 1; mask < 1 << catalog.length; mask++) {
      const wanted = catalog.filter((_, i) => mask & (1 << i));
      const patterns = topicPatterns(wanted, catalog);
      const covered = catalog.filter((t) =>
        patterns.some((p) => (p.endsWith('.*') ? t.startsWith(p.slice(0, -1)) : p === t)),
      );
      // Assess
      expect(covered.sort()).toEqual([...wanted].sort());
      expect(patterns).not.toContain('*');
    }
  });

  it('names a wanted topic missing from the catalog rather than dropping it', () => {
    expect(topicPatterns(['lab.result-ready'], catalog)).toEqual(['lab.result-ready']);
  });
});

describe('AWS consumer group ids', () => {
  it('carry the stage, so two stages never share a group', () => {
    const consumer = { groupId: 'audit-service' };
    expect(awsConsumerGroupId('dev', consumer, 'appointment.*')).toBe('dev.audit-service.appointment.*');
    expect(awsConsumerGroupId('dev', consumer, 'user.registered')).not.toBe(
      awsConsumerGroupId('prod', consumer, 'user.registered'),
    );
    expect(domainOf('appointment.requested')).toBe('appointment');
  });
});
