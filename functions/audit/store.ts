import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { EventBusError } from '../../shared/errors.ts';
import { dynamo } from '../../shared/lambda/clients.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';
import { type AuditEntry, auditKey, type ChainedAuditEntry } from './audit.ts';
import { type ChainHead, type ChainSlot, chainEntry, GENESIS_HASH } from './chain.ts';

/** The environment variable infra/resources.ts names for the audit table (TABLES.audit.env). */
export const AUDIT_TABLE_ENV = 'AUDIT_TABLE';

const chainPk = (chainKey: string) => `CHAIN#${chainKey}`;
const HINT_SK = 'HEAD';
const SLOT_PREFIX = 'SEQ#';
const slotKey = (chainKey: string, seq: number) => ({
  pk: chainPk(chainKey),
  sk: `${SLOT_PREFIX}${String(seq).padStart(12, '0')}`,
});

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

const entryExists = async (table: string, eventId: string): Promise<boolean> => {
  const out = await dynamo().send(
    new GetCommand({
      TableName: table,
      Key: auditKey(eventId),
      ConsistentRead: true,
      ProjectionExpression: 'pk',
    }),
  );
  return out.Item !== undefined;
};

const toSlot = (item: Record<string, unknown>): ChainSlot => ({
  chainKey: String(item.slotOf),
  seq: Number(item.seq),
  hash: String(item.hash),
  prevHash: String(item.prevHash),
  eventId: String(item.eventId),
  entry: JSON.parse(String(item.entry)) as ChainedAuditEntry,
});

const headOf = ({ entry: _entry, ...head }: ChainSlot): ChainHead => head;

/** The slots of a chain after `afterSeq`, in order (a consistent read of the base table). */
export const chainSlots = async (
  chainKey: string,
  afterSeq = 0,
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<ChainSlot[]> => {
  const slots: ChainSlot[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': chainPk(chainKey),
          ':from': slotKey(chainKey, afterSeq + 1).sk,
          ':to': `${SLOT_PREFIX}~`,
        },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    slots.push(...(out.Items ?? []).map(toSlot));
    start = out.LastEvaluatedKey;
  } while (start);
  return slots;
};

interface Tail {
  seq: number;
  hash: string;
}

const GENESIS: Tail = { seq: 0, hash: GENESIS_HASH };
const HINT_EVERY = 10;

/** The hint item: a slot every entry up to which is indexed (moved only forward, after the entry is written). */
const readHint = async (
  chainKey: string,
  table: string,
): Promise<(Tail & { eventId: string }) | undefined> => {
  const out = await dynamo().send(
    new GetCommand({ TableName: table, Key: { pk: chainPk(chainKey), sk: HINT_SK }, ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  return { seq: Number(out.Item.seq), hash: String(out.Item.hash), eventId: String(out.Item.eventId) };
};

/** The newest slot of a chain (the hint, then any slot written after it). */
export const getChainHead = async (
  chainKey: string,
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<ChainHead | undefined> => {
  const hint = await readHint(chainKey, table);
  const later = await chainSlots(chainKey, hint ? hint.seq - 1 : 0, table);
  const last = later.at(-1);
  return last ? headOf(last) : undefined;
};

/** Writes a slot's entry under its eventId unless it is there (an append finishing a predecessor's write). */
const indexEntry = async (table: string, entry: ChainedAuditEntry): Promise<void> => {
  try {
    await dynamo().send(
      new PutCommand({ TableName: table, Item: entry, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
};

const moveHint = async (table: string, slot: ChainSlot): Promise<void> => {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: table,
        Item: { pk: chainPk(slot.chainKey), sk: HINT_SK, ...headOf(slot), headOf: slot.chainKey },
        ConditionExpression: 'attribute_not_exists(pk) OR #seq < :seq',
        ExpressionAttributeNames: { '#seq': 'seq' },
        ExpressionAttributeValues: { ':seq': slot.seq },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error; // a later append moved it further already
  }
};

/**
 * The tail this container last appended per chain. Usually current when one writer owns the partition,
 * which saves the reads; when another writer appended since, the conditional slot write fails and the
 * chain is read again.
 */
const knownTails = new Map<string, Tail>();

/**
 * Appends the entry to its partition's hash chain, unless the event is already chained (a redelivery, a
 * producer retry, a dead letter replayed beside the original: returns false, the first entry stands).
 *
 * Correct with any number of concurrent writers, any of which may stop at any point, using only
 * conditional puts (DynamoDB Local servers have no transactions):
 * - the chain is a sequence of write-once slots (`CHAIN#<chainKey>` / `SEQ#<seq>`), each holding its entry
 *   in full with its hash; a slot is put only if absent, so exactly one writer wins each position and a
 *   chain can neither fork nor skip;
 * - before appending after slot n, the writer writes slot n's entry under its eventId (`EVENT#<id>`) if it
 *   is not there. So whenever slot n+1 exists, every earlier slot's entry is indexed, and an interrupted
 *   write is finished by whoever appends next (or by the event's own redelivery);
 * - a writer starts from the hint item (moved forward only after an entry is indexed) or from a slot it
 *   appended itself, and only then checks whether the event is indexed: if not, the event is in no slot up
 *   to that start, and the writer reads every slot after it before claiming the next one, so an event is
 *   never chained twice.
 * The same rules allow a partition's whole batch to be appended in one step: hashes computed in memory, one
 * slot claimed for the batch holding its entries (a span later writers step over and any writer can index),
 * the indexed entries written concurrently, the hint moved once.
 */
export const putAuditEntry = async (entry: AuditEntry): Promise<boolean> => {
  const table = requireEnv(AUDIT_TABLE_ENV);
  const { chainKey } = entry;
  // The start point must be read before the eventId is checked (see above).
  let tail: Tail = knownTails.get(chainKey) ?? (await readHint(chainKey, table)) ?? GENESIS;
  if (await entryExists(table, entry.eventId)) return false;
  let cachedPath = knownTails.has(chainKey);
  let fresh = cachedPath; // a cached tail is tried as is; otherwise read what follows
  knownTails.delete(chainKey);
  for (let attempt = 0; attempt < 20; attempt++) {
    if (!fresh) {
      const later = await chainSlots(chainKey, tail.seq, table);
      const mine = later.find((s) => s.eventId === entry.eventId);
      if (mine) {
        // Chained by another writer (maybe one that stopped before indexing it): finish and stand down.
        await indexEntry(table, mine.entry);
        return false;
      }
      const last = later.at(-1);
      if (last) {
        await indexEntry(table, last.entry);
        tail = last;
      }
    }
    fresh = false;
    const chained = chainEntry(entry, tail.seq + 1, tail.hash);
    const slot: ChainSlot = {
      chainKey,
      seq: chained.chainSeq,
      hash: chained.hash,
      prevHash: chained.prevHash,
      eventId: entry.eventId,
      entry: chained,
    };
    try {
      await dynamo().send(
        new PutCommand({
          TableName: table,
          Item: {
            ...slotKey(chainKey, slot.seq),
            ...headOf(slot),
            slotOf: chainKey,
            entry: JSON.stringify(chained),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) {
        cachedPath = false;
        continue; // another writer took this position: read on from it
      }
      throw error;
    }
    await indexEntry(table, chained);
    // The hint only shortens other writers' reads: moved every HINT_EVERY positions, and whenever this
    // container had to read the chain (another writer is about, or it just started).
    if (!cachedPath || slot.seq % HINT_EVERY === 0) await moveHint(table, slot);
    knownTails.set(chainKey, { seq: slot.seq, hash: slot.hash });
    return true;
  }
  throw new EventBusError('STORE_CONTENTION', `Audit chain ${chainKey} kept moving; will retry`, {
    retryable: true,
  });
};

/** Forget cached chain tails (tests that rewrite the table behind the function's back). */
export const forgetChainHeads = (): void => knownTails.clear();

/** Every chain (topic-partition) with its newest slot, for verification. */
export const listChainHeads = async (table = requireEnv(AUDIT_TABLE_ENV)): Promise<ChainHead[]> => {
  const heads = new Map<string, ChainHead>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'begins_with(sk, :slot)',
        ExpressionAttributeValues: { ':slot': SLOT_PREFIX },
        ProjectionExpression: 'slotOf, seq, #hash, prevHash, eventId',
        ExpressionAttributeNames: { '#hash': 'hash' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      const head: ChainHead = {
        chainKey: String(item.slotOf),
        seq: Number(item.seq),
        hash: String(item.hash),
        prevHash: String(item.prevHash),
        eventId: String(item.eventId),
      };
      if ((heads.get(head.chainKey)?.seq ?? 0) < head.seq) heads.set(head.chainKey, head);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return [...heads.values()];
};

/** The hint item of a chain, if any (verification: a hint past the newest slot means slots were deleted). */
export const chainHint = async (chainKey: string, table = requireEnv(AUDIT_TABLE_ENV)) =>
  readHint(chainKey, table);

/** The entries of one chain, in chain order. */
export const chainEntries = async (
  chainKey: string,
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<ChainedAuditEntry[]> => {
  const entries: ChainedAuditEntry[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new QueryCommand({
        TableName: table,
        IndexName: 'byChain',
        KeyConditionExpression: 'chainKey = :k',
        ExpressionAttributeValues: { ':k': chainKey },
        ExclusiveStartKey: start,
      }),
    );
    entries.push(...((out.Items ?? []) as ChainedAuditEntry[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return entries;
};

/**
 * The indexed entries (`EVENT#<id>`) of the given events that exist, by eventId: consistent batch reads of
 * 100 keys (verification, run by an operator; the function itself only puts, gets and queries).
 */
export const indexedEntries = async (
  eventIds: string[],
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<Map<string, ChainedAuditEntry>> => {
  const found = new Map<string, ChainedAuditEntry>();
  const ids = [...new Set(eventIds)];
  for (let i = 0; i < ids.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map(auditKey);
    while (keys && keys.length > 0) {
      const out: BatchGetCommandOutput = await dynamo().send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of out.Responses?.[table] ?? []) {
        const entry = item as ChainedAuditEntry;
        found.set(entry.eventId, entry);
      }
      keys = out.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return found;
};

export type AuditIndex = 'byPatient' | 'byActor' | 'byResource';

const INDEX_KEY: Record<AuditIndex, string> = {
  byPatient: 'patientId',
  byActor: 'performedBy',
  byResource: 'resourceKey',
};

/** Entries for a patient, an actor or a resource (`type#id`), oldest first. */
export const queryAudit = async (index: AuditIndex, value: string, limit = 100): Promise<AuditEntry[]> => {
  const out = await dynamo().send(
    new QueryCommand({
      TableName: requireEnv(AUDIT_TABLE_ENV),
      IndexName: index,
      KeyConditionExpression: '#k = :v',
      ExpressionAttributeNames: { '#k': INDEX_KEY[index] },
      ExpressionAttributeValues: { ':v': value },
      ScanIndexForward: true,
      Limit: limit,
    }),
  );
  return (out.Items ?? []) as AuditEntry[];
};
