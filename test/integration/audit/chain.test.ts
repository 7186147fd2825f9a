import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditKey, toAuditEntry } from '../../../functions/audit/audit.ts';
import { getChainHead, putAuditEntry } from '../../../functions/audit/store.ts';
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

  it('a claim left by an interrupted write is taken over by the next event without a gap', async () => {
    // Prepare: a head claiming seq 3 for an event whose entry was never written
    const { chainKey } = await writeChain(2);
    const head = await getChainHead(chainKey);
    await dynamo().send(
      new PutCommand({
        TableName: process.env[TABLES.audit.env],
        Item: {
          pk: `CHAIN#${chainKey}`,
          sk: 'HEAD',
          headOf: chainKey,
          seq: 3,
          hash: 'x',
          prevHash: head?.hash,
          eventId: 'lost',
        },
      }),
    );
    // Act: the next record of that partition
    const partition = Number(chainKey.slice(chainKey.lastIndexOf('-') + 1));
    const { event, value } = encodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      samplePayloads[TOPICS.APPOINTMENT_CONFIRMED],
      sampleMeta(),
    );
    await putAuditEntry(
      toAuditEntry(event, {
        topic: TOPICS.APPOINTMENT_CONFIRMED,
        partition,
        offset: '9',
        timestamp: '0',
        key: null,
        value: Buffer.from(value),
        headers: {},
      }),
    );
    // Assess
    expect(await getChainHead(chainKey)).toMatchObject({ seq: 3, eventId: event.eventId });
    expect(await problemsFor(chainKey)).toEqual([]);
  });
});
