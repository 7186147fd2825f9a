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
  | { kind: 'head-mismatch'; chainKey: string; seq: number };

export interface ChainHead {
  chainKey: string;
  seq: number;
  hash: string;
  prevHash: string;
  eventId: string;
}

/**
 * Walks one chain in order and returns the first problem: an entry whose content no longer matches its hash
 * (edited), whose prevHash is not the previous entry's hash (broken link), a missing sequence number
 * (deleted), or a head that does not match the last entry (the newest entry deleted or edited).
 */
export const verifyChain = (
  chainKey: string,
  entries: ChainedAuditEntry[],
  head?: ChainHead,
  entryExists?: (eventId: string) => boolean,
): ChainProblem | undefined => {
  let prev: ChainedAuditEntry | undefined;
  for (const entry of [...entries].sort((a, b) => a.chainSeq - b.chainSeq)) {
    const expectedSeq = (prev?.chainSeq ?? 0) + 1;
    if (entry.chainSeq !== expectedSeq) {
      return { kind: 'missing', chainKey, seq: expectedSeq, ...(prev ? { after: prev.eventId } : {}) };
    }
    if (entryHash(entry) !== entry.hash)
      return { kind: 'edited', chainKey, seq: entry.chainSeq, eventId: entry.eventId };
    if (entry.prevHash !== (prev?.hash ?? GENESIS_HASH)) {
      return { kind: 'broken-link', chainKey, seq: entry.chainSeq, eventId: entry.eventId };
    }
    prev = entry;
  }
  if (head) {
    const last = prev?.chainSeq ?? 0;
    // A head one past the last entry whose event has no entry is a write interrupted after the claim (the
    // record was retried or dead-lettered): the next write takes that sequence number over.
    const pendingClaim =
      head.seq === last + 1 && head.prevHash === (prev?.hash ?? GENESIS_HASH) && !entryExists?.(head.eventId);
    if (head.seq > last && !pendingClaim)
      return { kind: 'missing', chainKey, seq: last + 1, ...(prev ? { after: prev.eventId } : {}) };
    if (head.seq === last && head.hash !== prev?.hash)
      return { kind: 'head-mismatch', chainKey, seq: head.seq };
  }
  return undefined;
};
