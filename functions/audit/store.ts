import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { EventBusError } from '../../shared/errors.ts';
import { dynamo } from '../../shared/lambda/clients.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';
import { type AuditEntry, auditKey, type ChainedAuditEntry } from './audit.ts';
import { type ChainHead, chainEntry, GENESIS_HASH } from './chain.ts';

/** The environment variable infra/resources.ts names for the audit table (TABLES.audit.env). */
export const AUDIT_TABLE_ENV = 'AUDIT_TABLE';

const headKey = (chainKey: string) => ({ pk: `CHAIN#${chainKey}`, sk: 'HEAD' });

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

export const getChainHead = async (
  chainKey: string,
  table = requireEnv(AUDIT_TABLE_ENV),
): Promise<ChainHead | undefined> => {
  const out = await dynamo().send(
    new GetCommand({ TableName: table, Key: headKey(chainKey), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const { headOf, seq, hash, prevHash, eventId } = out.Item as Record<string, unknown>;
  return {
    chainKey: String(headOf),
    seq: Number(seq),
    hash: String(hash),
    prevHash: String(prevHash),
    eventId: String(eventId),
  };
};

/**
 * Writes the entry at the end of its partition's hash chain, unless one exists for the same eventId (a
 * redelivery or a producer retry: returns false, the first entry stands unchanged).
 *
 * DynamoDB Local servers have no transactions, so the write is two conditional steps: claim the next
 * sequence number on the chain's head item (conditional on the head not having moved), then put the entry
 * (conditional on its eventId being new). A crash between the two leaves a claim without an entry: the same
 * event, redelivered, finishes its own claim; a different event takes an abandoned claim over, so the chain
 * never forks or skips. This relies on one writer per partition, which the event-source mapping guarantees
 * (one batch in flight per partition, records of a partition processed in order).
 */
/**
 * The head this container last wrote per chain. One writer per partition means it is normally current, which
 * saves two reads per record; if another writer moved the head, the conditional claim fails and we re-read.
 */
const knownHeads = new Map<string, ChainHead>();

export const putAuditEntry = async (entry: AuditEntry): Promise<boolean> => {
  const table = requireEnv(AUDIT_TABLE_ENV);
  if (await entryExists(table, entry.eventId)) return false;
  for (let attempt = 0; attempt < 5; attempt++) {
    const cached = attempt === 0 ? knownHeads.get(entry.chainKey) : undefined;
    const head = cached ?? (await getChainHead(entry.chainKey, table));
    // A cached head is one whose entry this container wrote, so it is never an abandoned claim.
    const resume =
      head && (head.eventId === entry.eventId || (!cached && !(await entryExists(table, head.eventId))));
    const seq = head ? (resume ? head.seq : head.seq + 1) : 1;
    const prevHash = head ? (resume ? head.prevHash : head.hash) : GENESIS_HASH;
    const chained = chainEntry(entry, seq, prevHash);
    knownHeads.delete(entry.chainKey);
    try {
      await dynamo().send(
        new PutCommand({
          TableName: table,
          Item: {
            ...headKey(entry.chainKey),
            headOf: entry.chainKey,
            seq,
            hash: chained.hash,
            prevHash,
            eventId: entry.eventId,
          },
          ...(head
            ? {
                ConditionExpression: '#seq = :seq AND eventId = :eventId',
                ExpressionAttributeNames: { '#seq': 'seq' },
                ExpressionAttributeValues: { ':seq': head.seq, ':eventId': head.eventId },
              }
            : { ConditionExpression: 'attribute_not_exists(pk)' }),
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) continue; // the head moved under us: read it again
      throw error;
    }
    try {
      await dynamo().send(
        new PutCommand({ TableName: table, Item: chained, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
    knownHeads.set(entry.chainKey, {
      chainKey: entry.chainKey,
      seq,
      hash: chained.hash,
      prevHash,
      eventId: entry.eventId,
    });
    return true;
  }
  throw new EventBusError('STORE_CONTENTION', `Audit chain ${entry.chainKey} kept moving; will retry`, {
    retryable: true,
  });
};

/** Forget cached chain heads (tests that rewrite the table behind the function's back). */
export const forgetChainHeads = (): void => knownHeads.clear();

/** Every chain (topic-partition) with its head, for verification. */
export const listChainHeads = async (table = requireEnv(AUDIT_TABLE_ENV)): Promise<ChainHead[]> => {
  const heads: ChainHead[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'sk = :head',
        ExpressionAttributeValues: { ':head': 'HEAD' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      heads.push({
        chainKey: String(item.headOf),
        seq: Number(item.seq),
        hash: String(item.hash),
        prevHash: String(item.prevHash),
        eventId: String(item.eventId),
      });
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return heads;
};

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

/** Whether an entry exists for each eventId (to tell an interrupted claim from a deleted entry). */
export const existingEventIds = async (eventIds: string[], table = requireEnv(AUDIT_TABLE_ENV)) => {
  const found = new Set<string>();
  for (const eventId of eventIds) if (await entryExists(table, eventId)) found.add(eventId);
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
