import { requireEnv } from '../../shared/lambda/settings.ts';
import {
  ANCHOR_BUCKET_ENV,
  type AnchorChainProblem,
  ARCHIVE_PREFIX,
  type Archive,
  DIGEST_PREFIX,
  type Digest,
  readAnchorChain,
} from './anchor.ts';
import { type ChainProblem, type ChainSlot, verifyChain } from './chain.ts';
import { AUDIT_TABLE_ENV, chainHint, chainSlots, indexedEntries, listChainHeads } from './store.ts';

/**
 * A chain's history up to the latest digest, judged against that digest:
 * - `ok`: every entry a digest covered is there, intact, and the chain passes through every digested head;
 * - `broken`: an entry up to the newest digested head fails the chain's own check (edited, broken link,
 *   missing in the middle, chained twice) at `seq`;
 * - `truncated`: entries a digest had seen are gone from the end of the chain (`fromSeq`..`toSeq`);
 * - `rewritten`: the chain checks out on its own but no longer passes through a digested head (entries edited
 *   and every later hash recomputed). `seq` is the first entry that differs from the archive when an archive
 *   covers it; otherwise the change lies after `after` (the highest digested head below it that still
 *   matches) and at or before `atOrBefore` (the lowest that does not).
 */
export type AnchoredVerdict =
  | { verdict: 'ok' }
  | { verdict: 'broken'; seq: number; problem: ChainProblem }
  | { verdict: 'truncated'; fromSeq: number; toSeq: number }
  | { verdict: 'rewritten'; seq?: number; after: number; atOrBefore: number };

export interface ChainAnchorReport {
  chainKey: string;
  /** The newest head a digest recorded (0: the chain is newer than every digest). */
  anchoredSeq: number;
  anchored: AnchoredVerdict;
  /** What happened after the latest digest: entries appended since, and the first problem among them. */
  since: { entries: number; problem?: ChainProblem; pendingSeq?: number };
}

export interface AnchorReport {
  digest?: { seq: number; createdAt: string; hash: string };
  /** A break in the digests' or archives' own chain (impossible while Object Lock holds). */
  anchorProblems: AnchorChainProblem[];
  chains: ChainAnchorReport[];
}

export const isClean = (report: AnchorReport): boolean =>
  report.anchorProblems.length === 0 &&
  report.chains.every((c) => c.anchored.verdict === 'ok' && !c.since.problem);

const byChain = (digests: Digest[]) => {
  const map = new Map<string, { digest: number; seq: number; hash: string }[]>();
  for (const d of digests)
    for (const h of d.heads) {
      const list = map.get(h.chainKey) ?? [];
      list.push({ digest: d.seq, seq: h.seq, hash: h.hash });
      map.set(h.chainKey, list);
    }
  return map;
};

/** The first slot that differs from (or is missing against) the archived copy, in (after, upTo]. */
const firstArchivedDifference = (
  archives: Archive[],
  chainKey: string,
  slots: Map<number, ChainSlot>,
  after: number,
  upTo: number,
): number | undefined => {
  let first: number | undefined;
  for (const archive of archives)
    for (const s of archive.slots) {
      if (s.chainKey !== chainKey || s.seq <= after || s.seq > upTo) continue;
      if (slots.get(s.seq)?.hash !== s.hash && (first === undefined || s.seq < first)) first = s.seq;
    }
  return first;
};

/**
 * Judges one chain against every head the digests recorded for it (oldest digest first): the chain must pass
 * through each of them, so a digest taken after a rewrite does not launder it (the earlier digests still
 * disagree). `archives` load only when a rewrite needs pinning down.
 */
export const judgeChain = async (
  chainKey: string,
  heads: { digest: number; seq: number; hash: string }[],
  loadArchives: () => Promise<Archive[]>,
  table: string,
): Promise<ChainAnchorReport> => {
  const anchoredSeq = heads.reduce((max, h) => Math.max(max, h.seq), 0);
  const hint = await chainHint(chainKey, table);
  const slots = await chainSlots(chainKey, 0, table);
  const indexed = await indexedEntries(
    slots.map((s) => s.eventId),
    table,
  );
  const check = verifyChain(chainKey, slots, (id) => indexed.get(id), hint);
  const bySeq = new Map(slots.map((s) => [s.seq, s]));
  const lastSeq = slots.reduce((max, s) => Math.max(max, s.seq), 0);
  const since = {
    entries: slots.filter((s) => s.seq > anchoredSeq).length,
    ...(check.problem && check.problem.seq > anchoredSeq ? { problem: check.problem } : {}),
    ...(check.pending ? { pendingSeq: check.pending.seq } : {}),
  };
  const report = (anchored: AnchoredVerdict): ChainAnchorReport => ({
    chainKey,
    anchoredSeq,
    anchored,
    since,
  });
  if (!heads.length) return report({ verdict: 'ok' });
  const problem = check.problem;
  if (problem && problem.seq <= anchoredSeq) {
    // A gap that runs to the end of what is left is the newest entries deleted, not one taken from the middle.
    if (problem.kind === 'missing' && lastSeq < problem.seq)
      return report({ verdict: 'truncated', fromSeq: problem.seq, toSeq: anchoredSeq });
    return report({ verdict: 'broken', seq: problem.seq, problem });
  }
  if (lastSeq < anchoredSeq)
    return report({ verdict: 'truncated', fromSeq: lastSeq + 1, toSeq: anchoredSeq });
  const differs = (h: { seq: number; hash: string }) => bySeq.get(h.seq)?.hash !== h.hash;
  const first = heads.filter(differs).sort((a, b) => a.seq - b.seq)[0];
  if (!first) return report({ verdict: 'ok' });
  // Rewritten: the change lies after the newest digested head below it that still matches.
  const after = heads
    .filter((h) => h.seq < first.seq && !differs(h))
    .reduce((max, h) => Math.max(max, h.seq), 0);
  const atOrBefore = first.seq;
  const seq = firstArchivedDifference(await loadArchives(), chainKey, bySeq, after, atOrBefore);
  return report({ verdict: 'rewritten', ...(seq !== undefined ? { seq } : {}), after, atOrBefore });
};

/**
 * Verifies the trail against its anchor: the digests' own chain first, then every chain that a digest names
 * or the table holds.
 */
export const verifyAgainstAnchor = async (
  bucket = requireEnv(ANCHOR_BUCKET_ENV),
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<AnchorReport> => {
  const digests = await readAnchorChain<Digest>(DIGEST_PREFIX, bucket);
  const anchorProblems = digests.problem ? [digests.problem] : [];
  let archives: Promise<Archive[]> | undefined;
  const loadArchives = () => {
    archives ??= readAnchorChain<Archive>(ARCHIVE_PREFIX, bucket).then(({ objects, problem }) => {
      if (problem) anchorProblems.push(problem);
      return objects;
    });
    return archives;
  };
  const latest = digests.objects.at(-1);
  const history = byChain(digests.objects);
  // Every chain any digest saw (one deleted whole is in no later digest) and every chain in the table.
  const keys = new Set([...history.keys(), ...(await listChainHeads(table)).map((h) => h.chainKey)]);
  const chains: ChainAnchorReport[] = [];
  for (const chainKey of [...keys].sort()) {
    chains.push(await judgeChain(chainKey, history.get(chainKey) ?? [], loadArchives, table));
  }
  return {
    ...(latest ? { digest: { seq: latest.seq, createdAt: latest.createdAt, hash: latest.hash } } : {}),
    anchorProblems,
    chains,
  };
};

export const describeVerdict = (c: ChainAnchorReport): string => {
  const v = c.anchored;
  switch (v.verdict) {
    case 'ok':
      return c.anchoredSeq ? `ok through #${c.anchoredSeq}` : 'not in the latest digest yet';
    case 'broken':
      return `broken at #${v.seq} (${v.problem.kind})`;
    case 'truncated':
      return `truncated: #${v.fromSeq}..#${v.toSeq} were in a digest and are gone`;
    case 'rewritten':
      return v.seq !== undefined
        ? `rewritten from #${v.seq} (differs from the archive; the digest's hash at #${v.atOrBefore} no longer matches)`
        : `rewritten after #${v.after}, at or before #${v.atOrBefore} (the digest's hash no longer matches)`;
  }
};

/** The latest digest and whether the trail still matches it: what a console shows. */
export const latestDigestStatus = async (
  bucket = requireEnv(ANCHOR_BUCKET_ENV),
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<{
  digest?: AnchorReport['digest'];
  status: 'ok' | 'tampered' | 'no-digest';
  chains: { chainKey: string; verdict: string }[];
}> => {
  const report = await verifyAgainstAnchor(bucket, table);
  return {
    ...(report.digest ? { digest: report.digest } : {}),
    status: !report.digest ? 'no-digest' : isClean(report) ? 'ok' : 'tampered',
    chains: report.chains.map((c) => ({ chainKey: c.chainKey, verdict: describeVerdict(c) })),
  };
};
