import { describe, expect, it } from 'vitest';
import type { ChainedAuditEntry } from '../../../functions/audit/audit.ts';
import { toAuditEntry } from '../../../functions/audit/audit.ts';
import { type ChainSlot, chainEntry, GENESIS_HASH, verifyChain } from '../../../functions/audit/chain.ts';
import { encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

const CHAIN = `${TOPICS.APPOINTMENT_CONFIRMED}-7`;

const entryFor = (offset: number) => {
  const { event, value } = encodeEvent(
    TOPICS.APPOINTMENT_CONFIRMED,
    { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId: `a-${offset}` },
    sampleMeta(),
  );
  return toAuditEntry(event, {
    topic: TOPICS.APPOINTMENT_CONFIRMED,
    partition: 7,
    offset: String(offset),
    timestamp: '0',
    key: null,
    value: Buffer.from(value),
    headers: {},
  });
};

/** A well-formed chain of `n` slots, as the store writes it. */
const chainOf = (n: number): ChainSlot[] => {
  const slots: ChainSlot[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const entry = chainEntry(entryFor(seq), seq, prevHash);
    slots.push({ chainKey: CHAIN, seq, hash: entry.hash, prevHash, eventId: entry.eventId, entry });
    prevHash = entry.hash;
  }
  return slots;
};

const indexAll = (slots: ChainSlot[]) => {
  const byId = new Map<string, ChainedAuditEntry>(slots.map((s) => [s.eventId, s.entry]));
  return (id: string) => byId.get(id);
};

describe('verifyChain', () => {
  it('finds nothing wrong in an intact chain', () => {
    const slots = chainOf(4);
    expect(verifyChain(CHAIN, slots, indexAll(slots), { seq: 4 })).toEqual({});
  });

  it('reports the newest slot without its indexed entry as pending, an earlier one as missing', () => {
    const slots = chainOf(3);
    const without = (id: string) => (lookup: (i: string) => ChainedAuditEntry | undefined) => (i: string) =>
      i === id ? undefined : lookup(i);
    const newest = verifyChain(CHAIN, slots, without(slots[2]?.eventId as string)(indexAll(slots)));
    const middle = verifyChain(CHAIN, slots, without(slots[1]?.eventId as string)(indexAll(slots)));
    expect(newest).toEqual({ pending: expect.objectContaining({ seq: 3 }) });
    expect(middle.problem).toEqual({ kind: 'missing', chainKey: CHAIN, seq: 2, after: slots[0]?.eventId });
  });

  it('reports unindexed entries of the newest batch span as pending, of an earlier span as missing', () => {
    // Prepare: positions 1..2 claimed by one batch, 3..5 by the next
    const slots = chainOf(5).map((slot) => ({ ...slot, spanStart: slot.seq <= 2 ? 1 : 3 }));
    const lookup = indexAll(slots);
    const without = (ids: (string | undefined)[]) => (i: string) => (ids.includes(i) ? undefined : lookup(i));
    // Act: the newest span's first entries not indexed (its write in progress); then the first span's
    const inNewest = verifyChain(CHAIN, slots, without([slots[2]?.eventId, slots[3]?.eventId]));
    const inEarlier = verifyChain(CHAIN, slots, without([slots[0]?.eventId]));
    // Assess
    expect(inNewest).toEqual({ pending: expect.objectContaining({ seq: 3 }) });
    expect(inEarlier.problem).toEqual({ kind: 'missing', chainKey: CHAIN, seq: 1 });
  });

  it('reports an event chained twice (what two writers racing on the old head claim produced)', () => {
    const slots = chainOf(3);
    const first = slots[1] as ChainSlot;
    const again = chainEntry({ ...first.entry }, 4, (slots[2] as ChainSlot).hash);
    slots.push({ ...first, seq: 4, hash: again.hash, prevHash: again.prevHash, entry: again });
    const problem = verifyChain(CHAIN, slots, (id) =>
      id === first.eventId ? first.entry : indexAll(slots)(id),
    );
    expect(problem.problem).toMatchObject({ kind: 'duplicate', seq: 4, eventId: first.eventId });
  });

  it('reports a gap, an edited slot, an edited indexed copy, a broken link and a hint past the newest slot', () => {
    const gap = chainOf(4).filter((s) => s.seq !== 2);
    const edited = chainOf(3);
    const editedIndex = indexAll(edited); // the indexed copies as written
    (edited[1] as ChainSlot).entry = { ...(edited[1] as ChainSlot).entry, performedBy: 'someone-else' };
    const copy = chainOf(3);
    const lookup = (id: string) =>
      id === copy[0]?.eventId ? { ...(copy[0] as ChainSlot).entry, performedBy: 'x' } : indexAll(copy)(id);
    const relinked = chainOf(3);
    (relinked[2] as ChainSlot).prevHash = GENESIS_HASH;
    const short = chainOf(2);

    expect(verifyChain(CHAIN, gap, indexAll(gap)).problem).toMatchObject({ kind: 'missing', seq: 2 });
    expect(verifyChain(CHAIN, edited, editedIndex).problem).toMatchObject({
      kind: 'edited',
      seq: 2,
    });
    expect(verifyChain(CHAIN, copy, lookup).problem).toMatchObject({ kind: 'edited', seq: 1 });
    expect(verifyChain(CHAIN, relinked, indexAll(relinked)).problem).toMatchObject({
      kind: 'broken-link',
      seq: 3,
    });
    expect(verifyChain(CHAIN, short, indexAll(short), { seq: 3 }).problem).toMatchObject({
      kind: 'missing',
      seq: 3,
    });
  });
});
