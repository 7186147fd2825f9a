import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ANCHOR_BUCKET_ENV,
  ARCHIVE_PREFIX,
  type Archive,
  DIGEST_PREFIX,
  type Digest,
  readAnchorChain,
  s3,
  writeArchive,
  writeDigest,
} from '../../../functions/audit/anchor.ts';
import { type AnchorResult, runAnchorTask } from '../../../functions/audit/anchor-handler.ts';
import {
  type ChainAnchorReport,
  latestDigestStatus,
  verifyAgainstAnchor,
} from '../../../functions/audit/anchor-verify.ts';
import { auditKey, type ChainedAuditEntry, toAuditEntry } from '../../../functions/audit/audit.ts';
import { entryHash } from '../../../functions/audit/chain.ts';
import { chainSlots, forgetChainHeads, putAuditEntry } from '../../../functions/audit/store.ts';
import { startAnchorSchedule } from '../../../infra/local/audit/anchor-schedule.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { createTableInput } from '../../../infra/local/aws/provision.ts';
import { main as auditCli } from '../../../infra/ops/audit-cli.ts';
import { AUDIT_ANCHOR, TABLES } from '../../../infra/resources.ts';
import { encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { awsClientConfig, dynamo, resetClients } from '../../../shared/lambda/clients.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

let aws: LocalAws;
const saved = { ...process.env };
let nextPartition = 300;
const table = () => process.env[TABLES.audit.env] as string;
const bucket = () => process.env[ANCHOR_BUCKET_ENV] as string;

const record = (partition: number, offset: number) => {
  const { event, value } = encodeEvent(
    TOPICS.APPOINTMENT_CONFIRMED,
    { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId: `a-${partition}-${offset}` },
    sampleMeta(),
  );
  const raw: RawRecord = {
    topic: TOPICS.APPOINTMENT_CONFIRMED,
    partition,
    offset: String(offset),
    timestamp: '0',
    key: null,
    value: Buffer.from(value),
    headers: {},
  };
  return { event, raw };
};

/** A fresh chain of `count` entries, as the audit function writes them; returns its key and eventIds. */
const writeChain = async (count: number) => {
  const partition = nextPartition++;
  const ids: string[] = [];
  for (let offset = 0; offset < count; offset++) ids.push(await appendTo(partition, offset));
  return { chainKey: `${TOPICS.APPOINTMENT_CONFIRMED}-${partition}`, partition, ids };
};

const appendTo = async (partition: number, offset: number): Promise<string> => {
  const { event, raw } = record(partition, offset);
  await putAuditEntry(toAuditEntry(event, raw));
  return event.eventId;
};

const slotKey = (chainKey: string, seq: number) => ({
  pk: `CHAIN#${chainKey}`,
  sk: `SEQ#${String(seq).padStart(12, '0')}`,
});

/** Deletes an entry outright: its chain slot and its indexed copy. */
const deleteEntry = async (chainKey: string, seq: number, eventId: string) => {
  await dynamo().send(new DeleteCommand({ TableName: table(), Key: slotKey(chainKey, seq) }));
  await dynamo().send(new DeleteCommand({ TableName: table(), Key: auditKey(eventId) }));
};

/**
 * What someone with write access to the table can do to hide a change from the chain's own check: from
 * `fromSeq` on, put `reshape`'s entries in place and recompute every hash, slot and indexed copy alike,
 * and move the hint to the new head.
 */
const rewriteFrom = async (
  chainKey: string,
  fromSeq: number,
  reshape: (entries: ChainedAuditEntry[]) => ChainedAuditEntry[],
) => {
  const slots = await chainSlots(chainKey, 0, table());
  const before = slots.filter((s) => s.seq < fromSeq);
  const tail = reshape(slots.filter((s) => s.seq >= fromSeq).map((s) => s.entry));
  let prevHash = before.at(-1)?.hash as string;
  for (const [i, original] of tail.entries()) {
    const seq = fromSeq + i;
    const { hash: _hash, ...rest } = original;
    const content = { ...rest, chainSeq: seq, chainPosition: String(seq).padStart(12, '0'), prevHash };
    const entry: ChainedAuditEntry = { ...content, hash: entryHash(content) };
    await dynamo().send(
      new PutCommand({
        TableName: table(),
        Item: {
          ...slotKey(chainKey, seq),
          slotOf: chainKey,
          seq,
          hash: entry.hash,
          prevHash,
          eventId: entry.eventId,
          entry: JSON.stringify(entry),
        },
      }),
    );
    await dynamo().send(new PutCommand({ TableName: table(), Item: entry }));
    prevHash = entry.hash;
  }
  await dynamo()
    .send(
      new UpdateCommand({
        TableName: table(),
        Key: { pk: `CHAIN#${chainKey}`, sk: 'HEAD' },
        UpdateExpression: 'SET #hash = :h',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#hash': 'hash' },
        ExpressionAttributeValues: { ':h': prevHash },
      }),
    )
    .catch(() => undefined); // no hint on a short chain
};

const chainReport = async (chainKey: string): Promise<ChainAnchorReport | undefined> =>
  (await verifyAgainstAnchor()).chains.find((c) => c.chainKey === chainKey);

beforeAll(async () => {
  aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, s3: true, s3Port: 0, env: {} });
  Object.assign(process.env, aws.env);
  await resetClients();
  forgetChainHeads();
});

afterAll(async () => {
  await aws?.stop();
  process.env = saved;
  await resetClients();
});

describe('the local S3 keeps a digest as Object Lock in compliance mode does', () => {
  it('refuses to delete the locked version, to shorten or loosen its retention, and to take its key again', async () => {
    // Prepare
    await writeChain(2);
    const digest = await writeDigest();
    const Key = `${DIGEST_PREFIX}${String(digest.seq).padStart(12, '0')}.json`;
    const head = await s3().send(new HeadObjectCommand({ Bucket: bucket(), Key }));
    const VersionId = head.VersionId;
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (e: { name: string; $metadata?: { httpStatusCode?: number } }) =>
          `${e.name} ${e.$metadata?.httpStatusCode}`,
      );
    const soon = new Date(Date.now() + 86_400_000);
    // Act
    const outcomes = {
      delete: await refusal(s3().send(new DeleteObjectCommand({ Bucket: bucket(), Key, VersionId }))),
      deleteBypassing: await refusal(
        s3().send(
          new DeleteObjectCommand({ Bucket: bucket(), Key, VersionId, BypassGovernanceRetention: true }),
        ),
      ),
      shorten: await refusal(
        s3().send(
          new PutObjectRetentionCommand({
            Bucket: bucket(),
            Key,
            VersionId,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: soon },
          }),
        ),
      ),
      toGovernance: await refusal(
        s3().send(
          new PutObjectRetentionCommand({
            Bucket: bucket(),
            Key,
            VersionId,
            BypassGovernanceRetention: true,
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: head.ObjectLockRetainUntilDate },
          }),
        ),
      ),
      suspendVersioning: await refusal(
        s3().send(
          new PutBucketVersioningCommand({
            Bucket: bucket(),
            VersioningConfiguration: { Status: 'Suspended' },
          }),
        ),
      ),
      takeKeyAgain: await refusal(
        s3().send(new PutObjectCommand({ Bucket: bucket(), Key, Body: '{}', IfNoneMatch: '*' })),
      ),
    };
    const kept = await s3().send(new GetObjectCommand({ Bucket: bucket(), Key, VersionId }));
    // Assess
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const retainedDays = ((head.ObjectLockRetainUntilDate?.getTime() ?? 0) - Date.now()) / 86_400_000;
    expect(Math.round(retainedDays)).toBe(AUDIT_ANCHOR.retentionDays);
    expect(outcomes).toEqual({
      delete: 'AccessDenied 403',
      deleteBypassing: 'AccessDenied 403',
      shorten: 'AccessDenied 403',
      toGovernance: 'AccessDenied 403',
      suspendVersioning: 'InvalidBucketState 400',
      takeKeyAgain: 'PreconditionFailed 412',
    });
    expect(JSON.parse((await kept.Body?.transformToString()) ?? '')).toEqual(digest);
  });
});

const names = ['untouched', 'edited', 'recomputed', 'middle', 'newest', 'reordered', 'later'] as const;
/** The chains the tamper scenarios work on (one each), digested and archived before any is touched. */
const chains = {} as Record<(typeof names)[number], Awaited<ReturnType<typeof writeChain>>>;

describe('verification against the anchor', () => {
  let twoDigests: Awaited<ReturnType<typeof writeChain>>;

  beforeAll(async () => {
    for (const name of names) chains[name] = await writeChain(6);
    // A chain seen by two digests, archived only up to the first: a rewrite past the archive is bounded by
    // the digests alone.
    twoDigests = await writeChain(4);
    await writeArchive();
    await writeDigest();
    for (let offset = 4; offset < 6; offset++) await appendTo(twoDigests.partition, offset);
    await writeDigest();
  });

  it('an untouched trail verifies clean, and the console status says so', async () => {
    // Act
    const report = await verifyAgainstAnchor();
    const status = await latestDigestStatus();
    // Assess
    expect(report.anchorProblems).toEqual([]);
    for (const c of Object.values(chains)) {
      expect((await chainReport(c.chainKey))?.anchored).toEqual({ verdict: 'ok' });
    }
    expect(report.chains.every((c) => c.anchored.verdict === 'ok' && !c.since.problem)).toBe(true);
    expect(status).toMatchObject({ status: 'ok', digest: report.digest });
    expect(status.chains.find((c) => c.chainKey === chains.untouched.chainKey)?.verdict).toBe(
      'ok through #6',
    );
  });

  describe('after tampering', () => {
    beforeAll(async () => {
      const c = chains;
      // edit one entry's indexed copy
      await dynamo().send(
        new UpdateCommand({
          TableName: table(),
          Key: auditKey(c.edited.ids[2] as string),
          UpdateExpression: 'SET performedBy = :p',
          ExpressionAttributeValues: { ':p': 'someone-else' },
        }),
      );
      // edit one entry and recompute every later hash
      await rewriteFrom(c.recomputed.chainKey, 3, ([first, ...rest]) => [
        { ...(first as ChainedAuditEntry), performedBy: 'someone-else' },
        ...rest,
      ]);
      // delete one entry in the middle
      await deleteEntry(c.middle.chainKey, 3, c.middle.ids[2] as string);
      // delete the newest two entries, and the hint that would give them away
      await deleteEntry(c.newest.chainKey, 6, c.newest.ids[5] as string);
      await deleteEntry(c.newest.chainKey, 5, c.newest.ids[4] as string);
      await dynamo().send(
        new DeleteCommand({ TableName: table(), Key: { pk: `CHAIN#${c.newest.chainKey}`, sk: 'HEAD' } }),
      );
      // swap entries 2 and 4 and recompute the hashes from 2 on
      await rewriteFrom(c.reordered.chainKey, 2, ([e2, e3, e4, ...rest]) => [
        e4 as ChainedAuditEntry,
        e3 as ChainedAuditEntry,
        e2 as ChainedAuditEntry,
        ...rest,
      ]);
      // rewrite entry 5 of the chain whose archive stops at 4
      await rewriteFrom(twoDigests.chainKey, 5, ([first, ...rest]) => [
        { ...(first as ChainedAuditEntry), performedBy: 'someone-else' },
        ...rest,
      ]);
      // appended after the digest, then edited: reported apart from the anchored history
      await appendTo(c.later.partition, 6);
      const eighth = await appendTo(c.later.partition, 7);
      await dynamo().send(
        new UpdateCommand({
          TableName: table(),
          Key: auditKey(eighth),
          UpdateExpression: 'SET performedBy = :p',
          ExpressionAttributeValues: { ':p': 'someone-else' },
        }),
      );
    });

    const verdictOf = async (name: (typeof names)[number]) =>
      (await chainReport(chains[name].chainKey as string))?.anchored;

    it('an edited entry: broken at its place', async () => {
      expect(await verdictOf('edited')).toMatchObject({
        verdict: 'broken',
        seq: 3,
        problem: { kind: 'edited' },
      });
    });

    it('an edited entry with every later hash recomputed: rewritten from that entry', async () => {
      expect(await verdictOf('recomputed')).toEqual({
        verdict: 'rewritten',
        seq: 3,
        after: 0,
        atOrBefore: 6,
      });
    });

    it('an entry deleted from the middle: broken at its place', async () => {
      expect(await verdictOf('middle')).toMatchObject({
        verdict: 'broken',
        seq: 3,
        problem: { kind: 'missing' },
      });
    });

    it('the newest entries deleted: truncated, naming what the digest had seen', async () => {
      expect(await verdictOf('newest')).toEqual({ verdict: 'truncated', fromSeq: 5, toSeq: 6 });
    });

    it('two entries swapped, hashes recomputed: rewritten from the first of them', async () => {
      expect(await verdictOf('reordered')).toEqual({ verdict: 'rewritten', seq: 2, after: 0, atOrBefore: 6 });
    });

    it('a rewrite past the archive is placed between the digest that still matches and the one that does not', async () => {
      const report = await chainReport(twoDigests.chainKey);
      expect(report?.anchored).toEqual({ verdict: 'rewritten', after: 4, atOrBefore: 6 });
    });

    it('what happened after the digest is reported apart; an untouched chain stays ok', async () => {
      const later = await chainReport(chains.later.chainKey);
      expect(later).toMatchObject({
        anchoredSeq: 6,
        anchored: { verdict: 'ok' },
        since: { entries: 2, problem: { kind: 'edited', seq: 8 } },
      });
      expect((await chainReport(chains.untouched.chainKey))?.anchored).toEqual({ verdict: 'ok' });
    });

    it('npm run audit -- verify prints a verdict per chain and fails; the console status says tampered', async () => {
      // Act
      const lines: string[] = [];
      const code = await auditCli(['verify'], (l) => lines.push(l));
      const status = await latestDigestStatus();
      // Assess
      expect(code).toBe(1);
      const line = (name: (typeof names)[number]) =>
        lines.find((l) => l.includes(`${chains[name].chainKey}:`)) ?? '';
      expect(line('untouched')).toBe(`  ok ${chains.untouched.chainKey}: ok through #6`);
      expect(line('newest')).toContain('TRUNCATED');
      expect(line('recomputed')).toContain('REWRITTEN');
      expect(lines).toContain('after the digest:');
      expect(status.status).toBe('tampered');
    });
  });
});

describe('restore drill: the trail rebuilt from the archives into a new table', () => {
  it('brings back what was deleted or rewritten, and verifies against the digests', async () => {
    // Prepare: an empty table of the audit table's definition
    const restored = `${table()}-restored`;
    const admin = new DynamoDBClient(awsClientConfig('dynamodb'));
    await admin.send(new CreateTableCommand({ ...createTableInput(TABLES.audit), TableName: restored }));
    admin.destroy();
    // Act
    const lines: string[] = [];
    const code = await auditCli(['restore', '--into', restored], (l) => lines.push(l));
    const report = await verifyAgainstAnchor(bucket(), restored);
    const verdict = (chainKey: string) => report.chains.find((c) => c.chainKey === chainKey)?.anchored;
    // Assess: the archive was written before the tampering above, so the deleted and rewritten entries are back
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^restored \d+ entr\(ies\) of \d+ chain\(s\) from \d+ archive\(s\)/);
    for (const name of ['untouched', 'recomputed', 'middle', 'newest', 'reordered', 'edited'] as const)
      expect(verdict(chains[name].chainKey), name).toEqual({ verdict: 'ok' });
  });
});

describe('a digest written over or deleted through the S3 API', () => {
  it('a version written over a digest, or a delete marker, is reported and the locked first version read', async () => {
    // Prepare
    const digest = await writeDigest();
    const Key = `${DIGEST_PREFIX}${String(digest.seq).padStart(12, '0')}.json`;
    // Act: a plain PUT makes a newer version of the key; a DELETE without a version adds a marker
    await s3().send(
      new PutObjectCommand({ Bucket: bucket(), Key, Body: JSON.stringify({ ...digest, heads: [] }) }),
    );
    await s3().send(new DeleteObjectCommand({ Bucket: bucket(), Key }));
    const { objects, problem } = await readAnchorChain(DIGEST_PREFIX);
    // Assess
    expect(problem).toEqual({ prefix: DIGEST_PREFIX, seq: digest.seq, reason: 'shadowed' });
    expect(objects.at(-1)).toEqual(digest);
  });
});

describe('the anchor schedule npm start runs', () => {
  it('writes digests and archives on its timers, each number once, each linked to the one before', async () => {
    // Prepare
    const before = (await readAnchorChain<Digest>(DIGEST_PREFIX)).objects.length;
    const results: AnchorResult[] = [];
    const failures: unknown[] = [];
    // Act
    const schedule = startAnchorSchedule({
      digestEveryMs: 100,
      archiveEveryMs: 250,
      report: (r) => results.push(r),
      failed: (_task, error) => failures.push(error),
    });
    await vi.waitFor(() => expect(results.filter((r) => r.task === 'archive').length).toBeGreaterThan(1), {
      timeout: 15_000,
      interval: 100,
    });
    await schedule.stop();
    const digests = await readAnchorChain<Digest>(DIGEST_PREFIX);
    const archives = await readAnchorChain<Archive>(ARCHIVE_PREFIX);
    // Assess
    expect(failures).toEqual([]);
    const written = results.filter((r) => r.task === 'digest');
    expect(digests.objects.length).toBe(before + written.length);
    expect(digests.objects.slice(before).map((d) => d.hash)).toEqual(written.map((r) => r.hash));
    expect(archives.problem).toBeUndefined();
    expect(archives.objects.at(-1)?.slots).toEqual([]); // nothing appended since the previous archive
  });

  it('the anchor function refuses a task it does not know, naming what it expects', async () => {
    await expect(runAnchorTask({ task: 'delete' })).rejects.toThrow(/expects \{"task":"digest"\}/);
  });
});

describe('a digest taken after tampering', () => {
  it('does not launder it: the chain must still pass through every earlier digest', async () => {
    // Prepare: the schedule above wrote digests of the tampered table
    // Act
    const report = await verifyAgainstAnchor();
    const verdict = (name: (typeof names)[number]) =>
      report.chains.find((c) => c.chainKey === chains[name].chainKey)?.anchored;
    // Assess
    expect(verdict('recomputed')).toEqual({ verdict: 'rewritten', seq: 3, after: 0, atOrBefore: 6 });
    expect(verdict('newest')).toEqual({ verdict: 'truncated', fromSeq: 5, toSeq: 6 });
    expect(verdict('untouched')).toEqual({ verdict: 'ok' });
  });
});
