import { EventBusError } from '../../shared/errors.ts';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  ConditionalCheckFailedException,
  dynamo,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
} from '../../shared/lambda/clients.ts';
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

/**
 * The slots one item holds: a single position (`entry`), or the span of positions a batch claimed with one
 * write (`entries`, from `firstSeq` to `seq`). The item's own seq, hash, prevHash and eventId are its last
 * position's, so the newest item names the chain's head either way.
 */
const toSlots = (item: Record<string, unknown>): ChainSlot[] => {
  const chainKey = String(item.slotOf);
  const last: ChainHead = {
    chainKey,
    seq: Number(item.seq),
    hash: String(item.hash),
    prevHash: String(item.prevHash),
    eventId: String(item.eventId),
  };
  if (item.entries === undefined)
    return [{ ...last, entry: JSON.parse(String(item.entry)) as ChainedAuditEntry }];
  const entries = JSON.parse(String(item.entries)) as ChainedAuditEntry[];
  const spanStart = Number(item.firstSeq);
  return entries.map((entry, i) =>
    i === entries.length - 1
      ? { ...last, entry, spanStart }
      : {
          chainKey,
          seq: entry.chainSeq,
          hash: entry.hash,
          prevHash: entry.prevHash,
          eventId: entry.eventId,
          entry,
          spanStart,
        },
  );
};

const headOf = ({ entry: _entry, spanStart: _spanStart, ...head }: ChainSlot): ChainHead => head;

/** The items of a chain from the one holding position `fromSeq` on, each as its slots, in order. */
const readItems = async (chainKey: string, fromSeq: number, table: string): Promise<ChainSlot[][]> => {
  const items: ChainSlot[][] = [];
  if (fromSeq > 1) {
    // A batch's item is keyed by its first position: the one holding `fromSeq` may start before it. (An
    // append's start is always an item's last position, but a claim must never rest on that alone: a
    // position inside a span claimed again under its own key would fork the chain.)
    const out = await dynamo().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': chainPk(chainKey),
          ':from': slotKey(chainKey, 1).sk,
          ':to': slotKey(chainKey, fromSeq - 1).sk,
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const before = out.Items?.[0];
    if (before && Number(before.seq) >= fromSeq) items.push(toSlots(before));
  }
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': chainPk(chainKey),
          ':from': slotKey(chainKey, Math.max(fromSeq, 1)).sk,
          ':to': `${SLOT_PREFIX}~`,
        },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(out.Items ?? []).map(toSlots));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
};

/** The slots of a chain after `afterSeq`, in order (a consistent read of the base table). */
export const chainSlots = async (
  chainKey: string,
  afterSeq = 0,
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<ChainSlot[]> =>
  (await readItems(chainKey, afterSeq + 1, table)).flat().filter((slot) => slot.seq > afterSeq);

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

/** The eventIds among `eventIds` whose entry is indexed (consistent batch reads of 100 keys). */
const indexedIds = async (table: string, eventIds: string[]): Promise<Set<string>> => {
  const found = new Set<string>();
  await Promise.all(
    chunks(eventIds, 100).map(async (ids) => {
      let keys: Record<string, unknown>[] | undefined = ids.map(auditKey);
      while (keys && keys.length > 0) {
        const out: BatchGetCommandOutput = await dynamo().send(
          new BatchGetCommand({
            RequestItems: { [table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'pk' } },
          }),
        );
        for (const item of out.Responses?.[table] ?? []) found.add(String(item.pk).slice('EVENT#'.length));
        keys = out.UnprocessedKeys?.[table]?.Keys;
      }
    }),
  );
  return found;
};

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Writes slots' entries under their eventIds unless they are there (an append finishing another writer's
 * write), concurrently.
 */
const indexEntries = async (table: string, entries: ChainedAuditEntry[]): Promise<void> => {
  await Promise.all(
    entries.map(async (entry) => {
      try {
        await dynamo().send(
          new PutCommand({ TableName: table, Item: entry, ConditionExpression: 'attribute_not_exists(pk)' }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }),
  );
};

/**
 * Writes the entries of a span this writer has just claimed under their eventIds, 25 per batch write. No
 * condition is needed (batch writes take none): no other entry can be indexed under these eventIds (none
 * was indexed when the append began, and none is in another slot), and another writer finishing this span
 * writes the same entries from the slot.
 */
const indexClaimed = async (table: string, entries: ChainedAuditEntry[]): Promise<void> => {
  await Promise.all(
    chunks(entries, 25).map(async (part) => {
      let requests: NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string] =
        part.map((Item) => ({ PutRequest: { Item } }));
      for (let round = 0; requests.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 25 * 2 ** round)));
        const out = await dynamo().send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = out.UnprocessedItems?.[table] ?? [];
      }
    }),
  );
};

const moveHint = async (table: string, slot: ChainHead): Promise<void> => {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: table,
        Item: { pk: chainPk(slot.chainKey), sk: HINT_SK, ...slot, headOf: slot.chainKey },
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

/** An item stays well under DynamoDB's 400 KB: a batch larger than this is claimed as several spans. */
const SPAN_BYTES = 300_000;

/**
 * Appends the entries to their partitions' hash chains, each partition's in the given order, except those
 * already chained (a redelivery, a producer retry, a dead letter replayed beside the original) or repeated
 * in the batch: for each entry, true when this call chained it, false when an earlier entry stands.
 *
 * Correct with any number of concurrent writers, any of which may stop at any point, using only
 * conditional puts (DynamoDB Local servers have no transactions):
 * - the chain is a sequence of write-once items (`CHAIN#<chainKey>` / `SEQ#<first seq>`), each holding one
 *   position, or a span of consecutive positions one batch claimed, with its entries in full and their
 *   hashes; an item is put only if absent, and every append starts right after the previous item's last
 *   position, so exactly one writer wins each position and a chain can neither fork nor skip;
 * - before appending after an item, the writer writes that item's entries under their eventIds
 *   (`EVENT#<id>`) where they are not there. So whenever a later item exists, every earlier entry is
 *   indexed, and an interrupted write is finished by whoever appends next (or by the event's redelivery);
 * - a writer starts from the hint item (moved forward only after entries are indexed) or from an item it
 *   appended itself, and only then checks whether its events are indexed: those that are not are in no
 *   item up to that start, and the writer reads every item after it before claiming the next positions, so
 *   an event is never chained twice.
 * A batch costs the same few round trips as one entry: one batch read of the eventIds, the hashes computed
 * in memory, one conditional put claiming the span, its entries indexed by batch writes, the hint moved once.
 */
export const putAuditEntries = async (entries: AuditEntry[]): Promise<boolean[]> => {
  const table = requireEnv(AUDIT_TABLE_ENV);
  const byChain = new Map<string, AuditEntry[]>();
  const first = new Map<string, AuditEntry>();
  for (const entry of entries) {
    if (first.has(entry.eventId)) continue; // repeated in the batch: the first occurrence stands
    first.set(entry.eventId, entry);
    byChain.set(entry.chainKey, [...(byChain.get(entry.chainKey) ?? []), entry]);
  }
  const chained = new Set<string>();
  await Promise.all(
    [...byChain].map(async ([chainKey, list]) => {
      for (const id of await appendToChain(table, chainKey, list)) chained.add(id);
    }),
  );
  return entries.map((entry) => first.get(entry.eventId) === entry && chained.has(entry.eventId));
};

/** Appends one entry (see putAuditEntries): false when the event is already chained. */
export const putAuditEntry = async (entry: AuditEntry): Promise<boolean> =>
  (await putAuditEntries([entry]))[0] === true;

/** Appends one chain's entries (distinct events, in order); returns the eventIds this call chained. */
const appendToChain = async (table: string, chainKey: string, entries: AuditEntry[]): Promise<string[]> => {
  // The start point must be read before the eventIds are checked (see putAuditEntries).
  const cached = knownTails.get(chainKey);
  let tail: Tail = cached ?? (await readHint(chainKey, table)) ?? GENESIS;
  const present = await indexedIds(
    table,
    entries.map((e) => e.eventId),
  );
  let pending = entries.filter((e) => !present.has(e.eventId));
  if (pending.length === 0) return [];
  const startSeq = tail.seq;
  let cachedPath = cached !== undefined;
  let fresh = cachedPath; // a tail this container appended is tried as is; otherwise read what follows
  knownTails.delete(chainKey);
  const written: string[] = [];
  let last: ChainHead | undefined;
  while (pending.length > 0) {
    let attempt = 0;
    for (; attempt < 20; attempt++) {
      if (!fresh) {
        const later = await readItems(chainKey, tail.seq + 1, table);
        const elsewhere = new Set(later.flat().map((slot) => slot.eventId));
        const mine = new Set(pending.map((e) => e.eventId));
        const finish = later
          .filter((item, i) => i === later.length - 1 || item.some((slot) => mine.has(slot.eventId)))
          .flat();
        // Chained by another writer (maybe one that stopped before indexing it): finish, and leave it out.
        // A batch read first: usually every entry is indexed already, and a span holds hundreds.
        const indexed = await indexedIds(
          table,
          finish.map((slot) => slot.eventId),
        );
        await indexEntries(
          table,
          finish.filter((slot) => !indexed.has(slot.eventId)).map((slot) => slot.entry),
        );
        pending = pending.filter((e) => !elsewhere.has(e.eventId));
        const newest = later.at(-1)?.at(-1);
        if (newest) tail = newest;
        if (pending.length === 0) break;
      }
      fresh = false;
      const span = spanOf(pending, tail);
      const head = span.at(-1) as ChainedAuditEntry;
      const slot: ChainHead = {
        chainKey,
        seq: head.chainSeq,
        hash: head.hash,
        prevHash: head.prevHash,
        eventId: head.eventId,
      };
      const first = span[0] as ChainedAuditEntry;
      try {
        await dynamo().send(
          new PutCommand({
            TableName: table,
            Item: {
              ...slotKey(chainKey, first.chainSeq),
              ...slot,
              slotOf: chainKey,
              ...(span.length === 1
                ? { entry: JSON.stringify(first) }
                : { firstSeq: first.chainSeq, entries: JSON.stringify(span) }),
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
      await indexClaimed(table, span);
      written.push(...span.map((e) => e.eventId));
      pending = pending.slice(span.length);
      tail = slot;
      last = slot;
      fresh = true; // the next span follows this one, unless another writer got in between (its put fails)
      break;
    }
    if (attempt === 20) {
      throw new EventBusError('STORE_CONTENTION', `Audit chain ${chainKey} kept moving; will retry`, {
        retryable: true,
      });
    }
  }
  if (last) {
    // The hint only shortens other writers' reads: moved every HINT_EVERY positions, and whenever this
    // container had to read the chain (another writer is about, or it just started).
    if (!cachedPath || Math.floor(last.seq / HINT_EVERY) > Math.floor(startSeq / HINT_EVERY))
      await moveHint(table, last);
    knownTails.set(chainKey, { seq: last.seq, hash: last.hash });
  }
  return written;
};

/** The longest run of `pending` from its start that fits one item, chained after `tail` (hashes in memory). */
const spanOf = (pending: AuditEntry[], tail: Tail): ChainedAuditEntry[] => {
  const span: ChainedAuditEntry[] = [];
  let bytes = 0;
  let prev = tail;
  for (const entry of pending) {
    const chained = chainEntry(entry, prev.seq + 1, prev.hash);
    bytes += JSON.stringify(chained).length;
    if (span.length > 0 && bytes > SPAN_BYTES) break;
    span.push(chained);
    prev = { seq: chained.chainSeq, hash: chained.hash };
  }
  return span;
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
