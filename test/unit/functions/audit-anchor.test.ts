import { describe, expect, it } from 'vitest';
import { anchorHash, type Digest } from '../../../functions/audit/anchor.ts';
import { anchorRetentionDays, DEFAULT_RETENTION_DAYS } from '../../../functions/audit/anchor-config.ts';
import { GENESIS_HASH } from '../../../functions/audit/chain.ts';
import { sha256 } from '../../../shared/lambda/ids.ts';

describe('audit anchor retention', () => {
  it('defaults to six years and a day, counting the two leap days six years can hold', () => {
    expect(DEFAULT_RETENTION_DAYS).toBe(2193);
    expect(anchorRetentionDays({})).toBe(2193);
    expect(anchorRetentionDays({ AUDIT_ANCHOR_RETENTION_DAYS: '1' })).toBe(1);
  });

  it('refuses a retention that is not a whole number of days, naming the variable', () => {
    for (const bad of ['0', '-3', '1.5', 'six years'])
      expect(() => anchorRetentionDays({ AUDIT_ANCHOR_RETENTION_DAYS: bad })).toThrow(
        /AUDIT_ANCHOR_RETENTION_DAYS must be a whole number of days/,
      );
  });
});

describe('digest hash', () => {
  const digest: Omit<Digest, 'hash'> = {
    kind: 'esante-audit-digest',
    seq: 1,
    createdAt: '2026-11-30T12:00:00.000Z',
    heads: [{ chainKey: 'appointment.appointment.confirmed-0', seq: 3, hash: 'a'.repeat(64) }],
    previousHash: GENESIS_HASH,
  };

  it('is SHA-256 over the previous hash and the canonical JSON of the rest, as the runbook tells an auditor', () => {
    const canonical =
      '{"createdAt":"2026-11-30T12:00:00.000Z","heads":[{"chainKey":"appointment.appointment.confirmed-0",' +
      `"hash":"${'a'.repeat(64)}","seq":3}],"kind":"esante-audit-digest","previousHash":"${GENESIS_HASH}","seq":1}`;
    expect(anchorHash(digest)).toBe(sha256(GENESIS_HASH, canonical));
  });

  it('changes with any head, and with the previous digest', () => {
    const base = anchorHash(digest);
    const head = digest.heads[0] as Digest['heads'][number];
    expect(anchorHash({ ...digest, heads: [{ ...head, seq: 2 }] })).not.toBe(base);
    expect(anchorHash({ ...digest, previousHash: 'b'.repeat(64) })).not.toBe(base);
    expect(anchorHash({ ...digest, hash: 'ignored' } as Digest)).toBe(base);
  });
});
