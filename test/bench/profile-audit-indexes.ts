/**
 * `node --import tsx test/bench/profile-audit-indexes.ts`: what the audit table's four indexes cost the
 * store on dynalite. The same batches of 250 entries (a full 5 s window at 50 events/s) are appended by
 * `putAuditEntries` to the audit table as deployed and to a copy without its indexes, interleaved, in the
 * bench's own dynalite process. Prints the median append per table and their ratio.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toAuditEntry } from '../../functions/audit/audit.ts';
import { AUDIT_TABLE_ENV, putAuditEntries } from '../../functions/audit/store.ts';
import { createTableInput } from '../../infra/local/aws/provision.ts';
import { TABLES } from '../../infra/resources.ts';
import { encodeEvent, TOPICS } from '../../shared/events/index.ts';
import { awsClientConfig, resetClients } from '../../shared/lambda/clients.ts';
import { sampleMeta, samplePayloads } from '../fixtures/events.ts';
import { startBenchDynamo } from './env.ts';
import { median } from './stats.ts';

const ROUNDS = 7;
const BATCH = 250;
const dynamo = await startBenchDynamo();
Object.assign(process.env, dynamo.env);
resetClients();
const bare = `${TABLES.audit.name}-no-indexes`;
await new DynamoDBClient(awsClientConfig('dynamodb')).send(
  new CreateTableCommand(createTableInput({ ...TABLES.audit, name: bare, indexes: [] })),
);

const batch = (chain: number) =>
  Array.from({ length: BATCH }, (_, i) => {
    const { event, value } = encodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId: `a-${chain}-${i}` },
      sampleMeta(),
    );
    return toAuditEntry(event, {
      topic: TOPICS.APPOINTMENT_CONFIRMED,
      partition: chain,
      offset: String(i),
      timestamp: '0',
      key: null,
      value: Buffer.from(value),
      headers: {},
    });
  });

const ms: Record<string, number[]> = { [TABLES.audit.name]: [], [bare]: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const table of round % 2 === 0 ? [TABLES.audit.name, bare] : [bare, TABLES.audit.name]) {
    process.env[AUDIT_TABLE_ENV] = table;
    const entries = batch(round);
    const t = performance.now();
    await putAuditEntries(entries);
    (ms[table] as number[]).push(performance.now() - t);
  }
}
const withIndexes = median(ms[TABLES.audit.name] as number[]);
const without = median(ms[bare] as number[]);
console.log(
  `append of ${BATCH} entries, median of ${ROUNDS}: with the four indexes ${withIndexes.toFixed(0)} ms, without ${without.toFixed(0)} ms (${(withIndexes / without).toFixed(2)}×)`,
);
await dynamo.stop();
