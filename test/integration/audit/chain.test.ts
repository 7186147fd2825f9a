import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditKey, toAuditEntry } from '../../../functions/audit/audit.ts';
import {
  chainEntries,
  chainSlots,
  forgetChainHeads,
  getChainHead,
  indexedEntries,
  putAuditEntries,
  putAuditEntry,
} from '../../../functions/audit/store.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { main as auditCli, verifyAuditTrail } from '../../../infra/ops/audit-cli.ts';
import { TABLES } from '../../../infra/resources.ts';
import { encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { dynamo, resetClients } from '../../../shared/lambda/clients.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

let aws: LocalAws;
const saved = { ...process.env };
let nextPartition = 100;

/** Writes `count` audit entries on a fresh topic-partition chain, as the audit function would. */
const writeChain = async (count: number) => {
  const partition = nextPartition++;
  const written = [];
  for (let offset = 0; offset < count; offset++) {
    const { event, value } = encodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId: `a-${partition}-${offset}` },
      sampleMeta(),
    );
    const record: RawRecord = {
      topic: TOPICS.APPOINTMENT_CONFIRMED,
      partition,
      offset: String(offset),
      timestamp: String(Date.now()),
      key: null,
      value: Buffer.from(value),
      headers: {},
    };
    await putAuditEntry(toAuditEntry(event, record));
    written.push({ event, record });
  }
  return { chainKey: `${TOPICS.APPOINTMENT_CONFIRMED}-${partition}`, written };
};

const problemsFor = async (chainKey: string) =>
  (await verifyAuditTrail()).problems.filter((p) => p.chainKey === chainKey);

beforeAll(async () => {
  aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
  Object.assign(process.env, aws.env);
  resetClients();
});

afterAll(async () => {
  await aws?.stop();
  process.env = saved;
  resetClients();
});

describe('tamper-evident audit trail', () => {
  it('chains entries per partition and stays intact under redelivery', async () => {
    // Prepare
    const { chainKey, written } = await writeChain(5);
    // Act: the third record delivered again
    const third = written[2];
    const again = third ? await putAuditEntry(toAuditEntry(third.event, third.record)) : true;
    // Assess
    expect(again).toBe(false);
    expect((await getChainHead(chainKey))?.seq).toBe(5);
    expect(await problemsFor(chainKey)).toEqual([]);
  });

  it('audit verify flags an edited entry at its place', async () => {
    // Prepare
    const { chainKey, written } = await writeChain(4);
    // Act: someone rewrites who performed the third action
    await dynamo().send(
      new UpdateCommand({
        TableName: process.env[TABLES.audit.env],
        Key: auditKey(written[2]?.event.eventId as string),
        UpdateExpression: 'SET performedBy = :p',
        ExpressionAttributeValues: { ':p': 'someone-else' },
      }),
    );
    // Assess
    expect(await problemsFor(chainKey)).toEqual([
      { kind: 'edited', chainKey, seq: 3, eventId: written[2]?.event.eventId },
    ]);
    const lines: string[] = [];
    expect(await auditCli(['verify'], (l) => lines.push(l))).toBe(1);
    expect(lines.some((l) => l.startsWith(`BROKEN ${chainKey} #3: entry for event`))).toBe(true);
  });

  it('audit verify flags a deleted entry at its place', async () => {
    // Prepare
    const { chainKey, written } = await writeChain(4);
    // Act
    await dynamo().send(
      new DeleteCommand({
        TableName: process.env[TABLES.audit.env],
        Key: auditKey(written[1]?.event.eventId as string),
      }),
    );
    // Assess
    expect(await problemsFor(chainKey)).toEqual([
      { kind: 'missing', chainKey, seq: 2, after: written[0]?.event.eventId },
    ]);
  });

  it('an entry left unindexed by an interrupted write is pending, then finished by the next append', async () => {
    // Prepare: the writer of the third entry stopped after chaining it, before indexing it (and so before
    // moving the chain's hint, which it moves last)
    const { chainKey, written } = await writeChain(3);
    const third = written[2]?.event.eventId as string;
    const table = process.env[TABLES.audit.env];
    await dynamo().send(new DeleteCommand({ TableName: table, Key: auditKey(third) }));
    await dynamo().send(
      new DeleteCommand({ TableName: table, Key: { pk: `CHAIN#${chainKey}`, sk: 'HEAD' } }),
    );
    const before = await verifyAuditTrail();
    // Act: the next record of that partition, from another container
    forgetChainHeads();
    const next = await writeNext(chainKey, 9);
    // Assess
    expect(before.problems.filter((p) => p.chainKey === chainKey)).toEqual([]);
    expect(before.pendingClaims).toContain(`${chainKey}#3`);
    expect(await getChainHead(chainKey)).toMatchObject({ seq: 4, eventId: next });
    const after = await verifyAuditTrail();
    expect(after.problems.filter((p) => p.chainKey === chainKey)).toEqual([]);
    expect(after.pendingClaims.filter((c) => c.startsWith(`${chainKey}#`))).toEqual([]);
  });

  it("appends a partition's batch as one span: in order, repeats and chained events left out, verify clean", async () => {
    // Prepare: a chain of two; a batch holding the second again, three new events and a repeat of one
    const { chainKey, written } = await writeChain(2);
    const partition = Number(chainKey.slice(chainKey.lastIndexOf('-') + 1));
    const fresh = [2, 3, 4].map((offset) => confirmed(partition, offset));
    const items = [written[1], fresh[0], fresh[1], fresh[0], fresh[2]] as typeof fresh;
    const batch = items.map(({ event, record }) => toAuditEntry(event, record));
    // Act
    const result = await putAuditEntries(batch);
    // Assess: one item claimed positions 3..5, every entry indexed, nothing reported
    expect(result).toEqual([false, true, true, false, true]);
    const slots = await chainSlots(chainKey);
    expect(slots.map((s) => [s.seq, s.eventId])).toEqual([
      ...written.map((w, i) => [i + 1, w.event.eventId]),
      ...fresh.map((f, i) => [i + 3, f.event.eventId]),
    ]);
    expect(slots.slice(2).map((s) => s.spanStart)).toEqual([3, 3, 3]);
    expect((await indexedEntries(slots.map((s) => s.eventId))).size).toBe(5);
    expect(await getChainHead(chainKey)).toMatchObject({ seq: 5, eventId: fresh[2]?.event.eventId });
    expect(await problemsFor(chainKey)).toEqual([]);
  });

  it('a batch left unindexed by an interrupted write is pending, then finished by the next append', async () => {
    // Prepare: a batch of three chained, its writer stopped before indexing two of them and moving the hint
    const { chainKey } = await writeChain(1);
    const partition = Number(chainKey.slice(chainKey.lastIndexOf('-') + 1));
    const batch = [1, 2, 3].map((offset) => confirmed(partition, offset));
    await putAuditEntries(batch.map(({ event, record }) => toAuditEntry(event, record)));
    const table = process.env[TABLES.audit.env];
    for (const { event } of batch.slice(0, 2)) {
      await dynamo().send(new DeleteCommand({ TableName: table, Key: auditKey(event.eventId) }));
    }
    await dynamo().send(
      new DeleteCommand({ TableName: table, Key: { pk: `CHAIN#${chainKey}`, sk: 'HEAD' } }),
    );
    const before = await verifyAuditTrail();
    // Act: the next record of that partition, from another container
    forgetChainHeads();
    const next = await writeNext(chainKey, 9);
    // Assess
    expect(before.problems.filter((p) => p.chainKey === chainKey)).toEqual([]);
    expect(before.pendingClaims).toContain(`${chainKey}#2`);
    expect(await getChainHead(chainKey)).toMatchObject({ seq: 5, eventId: next });
    expect((await indexedEntries(batch.map((b) => b.event.eventId))).size).toBe(3);
    const after = await verifyAuditTrail();
    expect(after.problems.filter((p) => p.chainKey === chainKey)).toEqual([]);
    expect(after.pendingClaims.filter((c) => c.startsWith(`${chainKey}#`))).toEqual([]);
  });

  it('a writer paused between its two writes while another appends leaves one entry per position', async () => {
    // Prepare: the cause of a false gap seen under load (two writers on one chain: a dead letter replayed
    // in-process beside the ESM's invocation, or an invocation that timed out but kept running while the
    // ESM retried). Writer A stops right before its second write; writer B appends meanwhile.
    const { chainKey } = await writeChain(2);
    const partition = Number(chainKey.slice(chainKey.lastIndexOf('-') + 1));
    const a = confirmed(partition, 2);
    const gate = pauseFirstPut(`EVENT#${a.event.eventId}`);
    forgetChainHeads();
    const writerA = putAuditEntry(toAuditEntry(a.event, a.record));
    await gate.reached;
    // Act
    forgetChainHeads();
    const b = await writeNext(chainKey, 3);
    gate.release();
    await writerA;
    // Assess: both chained once, positions 1..4 contiguous, nothing reported
    const report = await verifyAuditTrail();
    expect(report.problems.filter((p) => p.chainKey === chainKey)).toEqual([]);
    const ids = (await chainEntries(chainKey)).map((e) => [e.chainSeq, e.eventId]);
    expect(ids.map(([seq]) => seq)).toEqual([1, 2, 3, 4]);
    expect(ids.filter(([, id]) => id === a.event.eventId || id === b)).toHaveLength(2);
  });
});

const confirmed = (partition: number, offset: number) => {
  const { event, value } = encodeEvent(
    TOPICS.APPOINTMENT_CONFIRMED,
    { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId: `a-${partition}-${offset}` },
    sampleMeta(),
  );
  const record: RawRecord = {
    topic: TOPICS.APPOINTMENT_CONFIRMED,
    partition,
    offset: String(offset),
    timestamp: '0',
    key: null,
    value: Buffer.from(value),
    headers: {},
  };
  return { event, record };
};

/** Appends one more event to the chain; returns its eventId. */
const writeNext = async (chainKey: string, offset: number): Promise<string> => {
  const partition = Number(chainKey.slice(chainKey.lastIndexOf('-') + 1));
  const { event, record } = confirmed(partition, offset);
  await putAuditEntry(toAuditEntry(event, record));
  return event.eventId;
};

/** The partition keys of the items a put or a batch write writes (marshalled or not). */
const putKeys = (input: { Item?: { pk?: unknown }; RequestItems?: Record<string, unknown> }): string[] =>
  [
    input.Item,
    // A batch write's requests per table (a batch get's are an object of keys, not puts)
    ...Object.values(input.RequestItems ?? {}).flatMap((requests) =>
      Array.isArray(requests)
        ? (requests as { PutRequest?: { Item?: { pk?: unknown } } }[]).map((r) => r.PutRequest?.Item)
        : [],
    ),
  ]
    .map((item) => item?.pk)
    .map((key) => (typeof key === 'string' ? key : (key as { S?: string } | undefined)?.S))
    .filter((key): key is string => key !== undefined);

/** Holds the first DynamoDB put or batch write of the item whose key is `pk` until released. */
const pauseFirstPut = (pk: string) => {
  let release = () => {};
  let reached = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const reachedP = new Promise<void>((resolve) => {
    reached = resolve;
  });
  let held = false;
  const name = `pause-${pk}`;
  dynamo().middlewareStack.add(
    (next) => async (args) => {
      if (!held && putKeys(args.input as Parameters<typeof putKeys>[0]).includes(pk)) {
        held = true;
        reached();
        await released;
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return {
    reached: reachedP,
    release: () => {
      release();
      dynamo().middlewareStack.remove(name);
    },
  };
};
