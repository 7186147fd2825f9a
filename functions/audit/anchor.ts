import {
  GetObjectCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { EventBusError } from '../../shared/errors.ts';
import { awsClientConfig, dynamo, onResetClients, PutCommand } from '../../shared/lambda/clients.ts';
import { sha256 } from '../../shared/lambda/ids.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';
import { ANCHOR_BUCKET_ENV, anchorRetentionDays } from './anchor-config.ts';
import { canonical, GENESIS_HASH } from './chain.ts';
import { AUDIT_TABLE_ENV, chainSlots, listChainHeads } from './store.ts';

/**
 * The trail's anchor outside the table: objects in an S3 bucket with Object Lock in compliance mode (the
 * bucket's default retention, infra/resources.ts AUDIT_ANCHOR), which nobody can delete or shorten until the
 * retention ends, whatever their access to the table.
 * - a digest (`digests/<n>`) records every chain's head (chain key, sequence number, entry hash); each digest
 *   is hashed and names the previous digest's hash, so the digests form a chain of their own;
 * - an archive (`archive/<n>`) holds every slot appended since the previous archive, in full: the trail
 *   survives the table, and a rewrite found by a digest can be pinned to its first changed entry.
 * Both are written with If-None-Match, so two writers (the schedule and an operator) never take one number,
 * and each carries its own COMPLIANCE retention (AUDIT_ANCHOR_RETENTION_DAYS, default six years and a day)
 * rather than relying on the bucket's default: S3 stamps the default on the object, but a server may apply
 * it only when asked to delete, and then an explicit retention, even a shorter one, would be accepted.
 */
export { ANCHOR_BUCKET_ENV } from './anchor-config.ts';

export const DIGEST_PREFIX = 'digests/';
export const ARCHIVE_PREFIX = 'archive/';

export interface DigestHead {
  chainKey: string;
  seq: number;
  hash: string;
}

export interface Digest {
  kind: 'esante-audit-digest';
  seq: number;
  createdAt: string;
  /** Every chain's newest slot when the digest was taken, by chain key. */
  heads: DigestHead[];
  previousHash: string;
  hash: string;
}

export interface ArchivedSlot extends DigestHead {
  prevHash: string;
  eventId: string;
  /** The chained entry as the slot holds it (JSON). */
  entry: string;
}

export interface Archive {
  kind: 'esante-audit-archive';
  seq: number;
  createdAt: string;
  /** Per chain, the newest sequence number archived so far (this archive and those before it). */
  upTo: Record<string, number>;
  slots: ArchivedSlot[];
  previousHash: string;
  hash: string;
}

let client: S3Client | undefined;
onResetClients(() => {
  client?.destroy();
  client = undefined;
});

/** The S3 client; path-style addressing against a local endpoint (S3_ENDPOINT). */
export const s3 = (): S3Client => {
  client ??= new S3Client({
    ...awsClientConfig('s3'),
    ...(process.env.S3_ENDPOINT ? { forcePathStyle: true } : {}),
  });
  return client;
};

const objectKey = (prefix: string, seq: number) => `${prefix}${String(seq).padStart(12, '0')}.json`;

/** The hash of a digest or archive: its previous hash and the canonical form of everything but `hash`. */
export const anchorHash = (
  object: Omit<Digest, 'hash'> | Omit<Archive, 'hash'> | Digest | Archive,
): string => {
  const { hash: _hash, ...content } = object as Digest;
  return sha256(content.previousHash, canonical(content));
};

/**
 * The objects under `prefix`, by key, each with its first version: the one written with If-None-Match and
 * locked. A later version (a plain PUT over the key) or a delete marker changes nothing read here; both are
 * reported (`shadowed`).
 */
const listFirstVersions = async (
  bucket: string,
  prefix: string,
): Promise<{ key: string; versionId?: string; shadowed: boolean }[]> => {
  const byKey = new Map<string, { versionId?: string; count: number }>();
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const out: ListObjectVersionsCommandOutput = await s3().send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
      }),
    );
    // S3 lists a key's versions newest first: the last one seen is the first written.
    for (const v of out.Versions ?? []) {
      if (!v.Key) continue;
      const seen = byKey.get(v.Key);
      byKey.set(v.Key, { ...(v.VersionId ? { versionId: v.VersionId } : {}), count: (seen?.count ?? 0) + 1 });
    }
    for (const m of out.DeleteMarkers ?? []) {
      const seen = m.Key ? byKey.get(m.Key) : undefined;
      if (seen) seen.count += 1;
      else if (m.Key) byKey.set(m.Key, { count: 1 });
    }
    const more = out.IsTruncated;
    keyMarker = more ? out.NextKeyMarker : undefined;
    versionIdMarker = more ? out.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return [...byKey]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, v]) => ({ key, ...(v.versionId ? { versionId: v.versionId } : {}), shadowed: v.count > 1 }));
};

const readJson = async <T>(bucket: string, key: string, versionId?: string): Promise<T> => {
  const out = await s3().send(
    new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
  );
  return JSON.parse((await out.Body?.transformToString()) ?? 'null') as T;
};

const newest = async <T>(bucket: string, prefix: string): Promise<T | undefined> => {
  const last = (await listFirstVersions(bucket, prefix)).filter((o) => o.versionId).at(-1);
  return last ? readJson<T>(bucket, last.key, last.versionId) : undefined;
};

const isTaken = (error: unknown) =>
  error instanceof S3ServiceException &&
  (error.$metadata.httpStatusCode === 412 || error.name === 'PreconditionFailed');

/** Puts `build(previous)` under the next number, unless another writer took it first (then builds again). */
const appendObject = async <T extends { seq: number }>(
  bucket: string,
  prefix: string,
  build: (previous: T | undefined) => Promise<T>,
): Promise<T> => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const object = await build(await newest<T>(bucket, prefix));
    try {
      await s3().send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: objectKey(prefix, object.seq),
          Body: JSON.stringify(object),
          ContentType: 'application/json',
          IfNoneMatch: '*',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() + anchorRetentionDays() * 86_400_000),
        }),
      );
      return object;
    } catch (error) {
      if (!isTaken(error)) throw error;
    }
  }
  throw new EventBusError('STORE_CONTENTION', `Another writer keeps taking the next ${prefix} number`, {
    retryable: true,
  });
};

/** Writes a digest of every chain's head, linked to the previous digest. */
export const writeDigest = async (
  bucket = requireEnv(ANCHOR_BUCKET_ENV),
  table = requireEnv(AUDIT_TABLE_ENV),
  now = () => new Date(),
): Promise<Digest> =>
  appendObject<Digest>(bucket, DIGEST_PREFIX, async (previous) => {
    const heads = (await listChainHeads(table))
      .map(({ chainKey, seq, hash }) => ({ chainKey, seq, hash }))
      .sort((a, b) => (a.chainKey < b.chainKey ? -1 : a.chainKey > b.chainKey ? 1 : 0));
    const digest: Omit<Digest, 'hash'> = {
      kind: 'esante-audit-digest',
      seq: (previous?.seq ?? 0) + 1,
      createdAt: now().toISOString(),
      heads,
      previousHash: previous?.hash ?? GENESIS_HASH,
    };
    return { ...digest, hash: anchorHash(digest) };
  });

/** Writes every slot appended since the previous archive, linked to it. */
export const writeArchive = async (
  bucket = requireEnv(ANCHOR_BUCKET_ENV),
  table = requireEnv(AUDIT_TABLE_ENV),
  now = () => new Date(),
): Promise<Archive> =>
  appendObject<Archive>(bucket, ARCHIVE_PREFIX, async (previous) => {
    const upTo = { ...(previous?.upTo ?? {}) };
    const slots: ArchivedSlot[] = [];
    const heads = await listChainHeads(table);
    for (const { chainKey } of heads.sort((a, b) => a.chainKey.localeCompare(b.chainKey))) {
      for (const slot of await chainSlots(chainKey, upTo[chainKey] ?? 0, table)) {
        const { chainKey: key, seq, hash, prevHash, eventId, entry } = slot;
        slots.push({ chainKey: key, seq, hash, prevHash, eventId, entry: JSON.stringify(entry) });
        upTo[chainKey] = seq;
      }
    }
    const archive: Omit<Archive, 'hash'> = {
      kind: 'esante-audit-archive',
      seq: (previous?.seq ?? 0) + 1,
      createdAt: now().toISOString(),
      upTo,
      slots,
      previousHash: previous?.hash ?? GENESIS_HASH,
    };
    return { ...archive, hash: anchorHash(archive) };
  });

/**
 * A break in the digests' (or archives') own chain: a missing number, a changed object, a broken link; or a
 * key written over or deleted (`shadowed`: its first, locked version still stands and is the one read).
 */
export interface AnchorChainProblem {
  prefix: string;
  seq: number;
  reason: 'missing' | 'hash' | 'link' | 'shadowed';
}

/** Every object under `prefix`, oldest first, and the first break in their chain (none under Object Lock). */
export const readAnchorChain = async <T extends Digest | Archive>(
  prefix: string,
  bucket = requireEnv(ANCHOR_BUCKET_ENV),
): Promise<{ objects: T[]; problem?: AnchorChainProblem }> => {
  const objects: T[] = [];
  const listed = await listFirstVersions(bucket, prefix);
  for (const { key, versionId } of listed)
    if (versionId) objects.push(await readJson<T>(bucket, key, versionId));
  const shadowed = listed.find((o) => o.shadowed);
  let previous: T | undefined;
  for (const object of objects) {
    const expected = (previous?.seq ?? 0) + 1;
    if (object.seq !== expected) return { objects, problem: { prefix, seq: expected, reason: 'missing' } };
    if (anchorHash(object) !== object.hash)
      return { objects, problem: { prefix, seq: object.seq, reason: 'hash' } };
    if (object.previousHash !== (previous?.hash ?? GENESIS_HASH))
      return { objects, problem: { prefix, seq: object.seq, reason: 'link' } };
    previous = object;
  }
  if (shadowed) {
    const seq = Number(shadowed.key.slice(prefix.length).replace(/\.json$/, ''));
    return { objects, problem: { prefix, seq, reason: 'shadowed' } };
  }
  return { objects };
};

/**
 * Rebuilds a trail from the archives into `table` (an empty table with the audit table's definition): every
 * archived slot, its indexed entry, and each chain's hint at its newest slot. Nothing already there is
 * overwritten. For when the table and its backups are gone; verify it against the digests afterwards.
 */
export const restoreFromArchives = async (
  table: string,
  bucket = requireEnv(ANCHOR_BUCKET_ENV),
): Promise<{ archives: number; chains: number; entries: number }> => {
  const { objects } = await readAnchorChain<Archive>(ARCHIVE_PREFIX, bucket);
  const newest = new Map<string, ArchivedSlot>();
  let entries = 0;
  const putNew = async (item: Record<string, unknown>) => {
    try {
      await dynamo().send(
        new PutCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  };
  for (const archive of objects)
    for (const slot of archive.slots) {
      const { chainKey, seq, hash, prevHash, eventId, entry } = slot;
      const pk = `CHAIN#${chainKey}`;
      await putNew({
        pk,
        sk: `SEQ#${String(seq).padStart(12, '0')}`,
        chainKey,
        slotOf: chainKey,
        seq,
        hash,
        prevHash,
        eventId,
        entry,
      });
      await putNew(JSON.parse(entry) as Record<string, unknown>);
      if ((newest.get(chainKey)?.seq ?? 0) < seq) newest.set(chainKey, slot);
      entries++;
    }
  for (const { chainKey, seq, hash, prevHash, eventId } of newest.values())
    await putNew({
      pk: `CHAIN#${chainKey}`,
      sk: 'HEAD',
      chainKey,
      seq,
      hash,
      prevHash,
      eventId,
      headOf: chainKey,
    });
  return { archives: objects.length, chains: newest.size, entries };
};
