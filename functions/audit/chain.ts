import { sha256 } from '../../shared/lambda/ids.ts';
import type { AuditEntry, ChainedAuditEntry } from './audit.ts';

/**
 * The tamper-evident trail. Each entry's `hash` is SHA-256 over the previous entry's hash (same
 * topic-partition) and the canonical form of the entry: keys sorted at every level, `hash` and the
 * wall-clock `recordedAt` left out, so the same event at the same place always hashes the same — a
 * redelivery writes nothing new, and a rewrite after a crash writes the identical entry.
 */
export const GENESIS_HASH = '0'.repeat(64);

export const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
};

export const entryHash = (entry: Omit<ChainedAuditEntry, 'hash'> | ChainedAuditEntry): string => {
  const { hash: _hash, recordedAt: _recordedAt, ...content } = entry as ChainedAuditEntry;
  return sha256(entry.prevHash, canonical(content));
};

export const chainEntry = (entry: AuditEntry, seq: number, prevHash: string): ChainedAuditEntry => {
  const chained = { ...entry, chainSeq: seq, chainPosition: String(seq).padStart(12, '0'), prevHash };
  return { ...chained, hash: entryHash(chained) };
};

export type ChainProblem =
  | { kind: 'edited'; chainKey: string; seq: number; eventId: string }
  | { kind: 'broken-link'; chainKey: string; seq: number; eventId: string }
  | { kind: 'missing'; chainKey: string; seq: number; after?: string }
  | { kind: 'duplicate'; chainKey: string; seq: number; eventId: string }
  | { kind: 'head-mismatch'; chainKey: string; seq: number };

/** Where a chain ends: the newest slot (or the hint item that records it). */
export interface ChainHead {
  chainKey: string;
  seq: number;
  hash: string;
  prevHash: string;
  eventId: string;
}

/**
 * One position of a chain, written once (store.ts): the entry that holds it, in full, with its hash. The
 * slot is the chain; the entry under its eventId (`EVENT#<id>`) is the indexed, queryable copy.
 */
export interface ChainSlot extends ChainHead {
  entry: ChainedAuditEntry;
  /**
   * The first position of the item that holds this slot, when a batch claimed several positions with one
   * write (store.ts); absent for an item holding one position.
   */
  spanStart?: number;
}

export interface ChainCheck {
  problem?: ChainProblem;
  /** The newest slot's entry is not indexed yet: its write is in progress or was interrupted. */
  pending?: ChainHead;
}

/**
 * Walks one chain's slots in order and returns the first problem: a missing sequence number (a deleted slot),
 * an entry whose content no longer matches its hash, or whose indexed copy differs from the slot (edited), a
 * prevHash that is not the previous slot's hash (broken link), an event chained twice (duplicate), a
 * non-newest slot whose indexed entry is gone (missing), or a hint past the newest slot (the newest slots
 * deleted). The newest slot may lack its indexed entry, and so may every slot claimed by the same write (a
 * batch's span): every later append (or the event's redelivery) writes them first, so that is a write in
 * progress, reported as `pending`, not a problem.
 */
export const verifyChain = (
  chainKey: string,
  slots: ChainSlot[],
  indexed: (eventId: string) => ChainedAuditEntry | undefined,
  hint?: { seq: number },
): ChainCheck => {
  let prev: ChainSlot | undefined;
  const seen = new Set<string>();
  const ordered = [...slots].sort((a, b) => a.seq - b.seq);
  const newest = ordered.at(-1);
  const newestItem = newest ? (newest.spanStart ?? newest.seq) : 0;
  for (const slot of ordered) {
    const expectedSeq = (prev?.seq ?? 0) + 1;
    const after = prev ? { after: prev.eventId } : {};
    if (slot.seq !== expectedSeq)
      return { problem: { kind: 'missing', chainKey, seq: expectedSeq, ...after } };
    const where = { chainKey, seq: slot.seq, eventId: slot.eventId };
    const { entry } = slot;
    if (
      entryHash(entry) !== slot.hash ||
      entry.hash !== slot.hash ||
      entry.eventId !== slot.eventId ||
      entry.chainSeq !== slot.seq
    )
      return { problem: { kind: 'edited', ...where } };
    if (slot.prevHash !== (prev?.hash ?? GENESIS_HASH) || entry.prevHash !== slot.prevHash)
      return { problem: { kind: 'broken-link', ...where } };
    if (seen.has(slot.eventId)) return { problem: { kind: 'duplicate', ...where } };
    seen.add(slot.eventId);
    const copy = indexed(slot.eventId);
    if (!copy) {
      if ((slot.spanStart ?? slot.seq) !== newestItem)
        return { problem: { kind: 'missing', chainKey, seq: slot.seq, ...after } };
    } else if (entryHash(copy) !== slot.hash || copy.hash !== slot.hash || copy.chainSeq !== slot.seq) {
      return { problem: { kind: 'edited', ...where } };
    }
    prev = slot;
  }
  const last = prev?.seq ?? 0;
  if (hint && hint.seq > last) {
    return {
      problem: { kind: 'missing', chainKey, seq: last + 1, ...(prev ? { after: prev.eventId } : {}) },
    };
  }
  const unindexed = ordered.find(
    (slot) => (slot.spanStart ?? slot.seq) === newestItem && !indexed(slot.eventId),
  );
  if (prev && unindexed) {
    const { entry: _entry, spanStart: _spanStart, ...pending } = unindexed;
    return { pending };
  }
  return {};
};
