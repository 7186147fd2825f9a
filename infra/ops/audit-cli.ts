/**
 * `npm run audit -- verify | digest | archive | query`
 *
 *   verify                       walks every partition's hash chain; prints the first broken link of each
 *                                chain (edited entry, broken link, missing entry, head mismatch); with an
 *                                anchor bucket (AUDIT_ANCHOR_BUCKET), also judges each chain against the
 *                                latest digest: ok / broken at #n / truncated / rewritten, and what was
 *                                appended after it; exit 1 if anything is wrong
 *   digest                       writes a digest of every chain head to the anchor bucket now
 *   archive                      writes the slots appended since the last archive to the anchor bucket now
 *   restore --into <table>       rebuilds the trail from the archives into an empty table of the audit
 *                                table's definition (then: AUDIT_TABLE=<table> npm run audit -- verify)
 *   query --patient <id> | --actor <id> | --resource <type#id> [--limit n]
 *                                entries in time order (seed fields; metadata never holds PHI)
 *
 * Environment: AUDIT_TABLE and DYNAMODB_ENDPOINT (locally), as the audit function uses them; AUDIT_ANCHOR_BUCKET
 * and S3_ENDPOINT (locally) for the anchor.
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs, parseEnv } from 'node:util';
import { ANCHOR_BUCKET_ENV } from '../../functions/audit/anchor-config.ts';
import type { ChainCheck, ChainProblem } from '../../functions/audit/chain.ts';
import { verifyChain } from '../../functions/audit/chain.ts';
import {
  type AuditIndex,
  chainHint,
  chainSlots,
  indexedEntries,
  listChainHeads,
  queryAudit,
} from '../../functions/audit/store.ts';
import { START_ENV_FILE } from '../local/invoke.ts';

/** While `npm start` runs, its endpoints (.local/start.env) fill in what the environment does not set. */
const loadStartEnv = (): void => {
  if (!existsSync(START_ENV_FILE)) return;
  for (const [name, value] of Object.entries(parseEnv(readFileSync(START_ENV_FILE, 'utf8')))) {
    if (process.env[name] === undefined && value !== undefined) process.env[name] = value;
  }
};

export interface VerifyReport {
  chains: number;
  entries: number;
  problems: ChainProblem[];
  /** Heads claimed by a write that has not finished (its record is being retried or was dead-lettered). */
  pendingClaims: string[];
}

/**
 * Verifies one chain: slots first, then their indexed entries. An append indexes slot n's entry before it
 * writes slot n+1, so only the newest slot read here may lack its entry (a write in progress), never an
 * earlier one.
 */
export const verifyChainAt = async (chainKey: string): Promise<ChainCheck & { entries: number }> => {
  const hint = await chainHint(chainKey);
  const slots = await chainSlots(chainKey);
  const indexed = await indexedEntries(slots.map((s) => s.eventId));
  return { ...verifyChain(chainKey, slots, (id) => indexed.get(id), hint), entries: slots.length };
};

export const verifyAuditTrail = async (): Promise<VerifyReport> => {
  const heads = await listChainHeads();
  const report: VerifyReport = { chains: heads.length, entries: 0, problems: [], pendingClaims: [] };
  for (const head of heads.sort((a, b) => a.chainKey.localeCompare(b.chainKey))) {
    const { problem, pending, entries } = await verifyChainAt(head.chainKey);
    report.entries += entries;
    if (problem) report.problems.push(problem);
    else if (pending) report.pendingClaims.push(`${pending.chainKey}#${pending.seq}`);
  }
  return report;
};

export const describeProblem = (p: ChainProblem): string => {
  switch (p.kind) {
    case 'edited':
      return `${p.chainKey} #${p.seq}: entry for event ${p.eventId} was modified (its hash no longer matches)`;
    case 'broken-link':
      return `${p.chainKey} #${p.seq}: entry for event ${p.eventId} does not link to the previous entry`;
    case 'missing':
      return `${p.chainKey} #${p.seq}: entry missing${p.after ? ` (after event ${p.after})` : ' (chain start)'}`;
    case 'duplicate':
      return `${p.chainKey} #${p.seq}: event ${p.eventId} is chained a second time`;
    case 'head-mismatch':
      return `${p.chainKey} #${p.seq}: the newest entry does not match the chain head`;
  }
};

/** The anchored half of `verify`: one line per chain, then what followed the digest; false if any is wrong. */
const printAnchored = async (print: (line: string) => void): Promise<boolean> => {
  const { describeVerdict, isClean, verifyAgainstAnchor } = await import(
    '../../functions/audit/anchor-verify.ts'
  );
  const report = await verifyAgainstAnchor();
  for (const p of report.anchorProblems)
    print(
      `ANCHOR ${p.prefix}#${p.seq}: ${p.reason} (the anchor's own chain; the first locked versions are read)`,
    );
  if (!report.digest) {
    print('no digest yet: nothing to verify against (npm run audit -- digest)');
    return report.anchorProblems.length === 0;
  }
  const d = report.digest;
  print(`against digest #${d.seq} of ${d.createdAt} (hash ${d.hash}):`);
  for (const c of report.chains) {
    const tag = c.anchored.verdict === 'ok' ? 'ok' : c.anchored.verdict.toUpperCase();
    print(`  ${tag} ${c.chainKey}: ${describeVerdict(c)}`);
  }
  print('after the digest:');
  for (const c of report.chains) {
    if (!c.since.entries && !c.since.problem) continue;
    const state = c.since.problem ? `BROKEN ${describeProblem(c.since.problem)}` : 'intact';
    print(`  ${c.chainKey}: ${c.since.entries} new entr(ies), ${state}`);
  }
  return isClean(report);
};

export const main = async (argv: string[], print: (line: string) => void): Promise<number> => {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      patient: { type: 'string' },
      actor: { type: 'string' },
      resource: { type: 'string' },
      limit: { type: 'string', default: '100' },
      into: { type: 'string' },
    },
  });
  const [command] = positionals;
  if (command === 'verify') {
    const report = await verifyAuditTrail();
    for (const problem of report.problems) print(`BROKEN ${describeProblem(problem)}`);
    for (const claim of report.pendingClaims)
      print(
        `pending ${claim}: newest entry not indexed yet (write in progress; the next append finishes it)`,
      );
    print(`${report.chains} chain(s), ${report.entries} entr(ies), ${report.problems.length} broken`);
    const anchored = process.env[ANCHOR_BUCKET_ENV] ? await printAnchored(print) : true;
    return report.problems.length || !anchored ? 1 : 0;
  }
  if (command === 'digest') {
    const { writeDigest } = await import('../../functions/audit/anchor.ts');
    const d = await writeDigest();
    const entries = d.heads.reduce((n, h) => n + h.seq, 0);
    print(
      `digest #${d.seq} written: ${d.heads.length} chain head(s), ${entries} entr(ies) covered, hash ${d.hash}`,
    );
    return 0;
  }
  if (command === 'archive') {
    const { writeArchive } = await import('../../functions/audit/anchor.ts');
    const a = await writeArchive();
    print(
      `archive #${a.seq} written: ${a.slots.length} entr(ies) since the previous archive, hash ${a.hash}`,
    );
    return 0;
  }
  if (command === 'restore') {
    if (!values.into) {
      print('restore needs --into <table>: an empty table with the audit table definition');
      return 2;
    }
    const { restoreFromArchives } = await import('../../functions/audit/anchor.ts');
    const r = await restoreFromArchives(values.into);
    print(
      `restored ${r.entries} entr(ies) of ${r.chains} chain(s) from ${r.archives} archive(s) into ${values.into}`,
    );
    return 0;
  }
  if (command === 'query') {
    const [index, value]: [AuditIndex, string | undefined] = values.patient
      ? ['byPatient', values.patient]
      : values.actor
        ? ['byActor', values.actor]
        : ['byResource', values.resource];
    if (!value) {
      print('query needs --patient <id>, --actor <id> or --resource <type#id>');
      return 2;
    }
    for (const e of await queryAudit(index, value, Number(values.limit))) {
      print(
        JSON.stringify({
          occurredAt: e.occurredAt,
          action: e.action,
          actionCategory: e.actionCategory,
          performedBy: e.performedBy,
          performedByType: e.performedByType,
          resourceType: e.resourceType,
          resourceId: e.resourceId,
          patientId: e.patientId,
          description: e.description,
          eventId: e.eventId,
        }),
      );
    }
    return 0;
  }
  print(
    'usage: npm run audit -- verify | digest | archive | restore --into <table> | query --patient <id> | --actor <id> | --resource <type#id>',
  );
  return 2;
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  loadStartEnv();
  process.exitCode = await main(process.argv.slice(2), (line) => console.log(line)).catch(
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      return 1;
    },
  );
}
