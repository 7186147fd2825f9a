/**
 * `node --import tsx test/bench/profile-audit.ts` (add `--cpu-prof` for a profile): the audit store alone
 * against dynalite in this process, appending batches of 50 to 500 entries to fresh chains, so the cost per
 * entry of the store (not of the emulator or Kafka) shows. Summarise a profile with profile-summary.mjs.
 */
import { toAuditEntry } from '../../functions/audit/audit.ts';
import { putAuditEntries } from '../../functions/audit/store.ts';
import { startLocalAws } from '../../infra/local/aws/index.ts';
import { encodeEvent, TOPICS } from '../../shared/events/index.ts';
import { resetClients } from '../../shared/lambda/clients.ts';
import { sampleMeta, samplePayloads } from '../fixtures/events.ts';

const aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
Object.assign(process.env, aws.env);
resetClients();
const items = (p: number, n: number) =>
  Array.from({ length: n }, (_, i) => {
    const { event, value } = encodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId: `a-${p}-${i}` },
      sampleMeta(),
    );
    return {
      event,
      record: {
        topic: TOPICS.APPOINTMENT_CONFIRMED,
        partition: p,
        offset: String(i),
        timestamp: '0',
        key: null,
        value: Buffer.from(value),
        headers: {},
      },
    };
  });
for (const n of [50, 100, 250, 500]) {
  const its = items(1000 + n, n);
  let t = performance.now();
  const entries = its.map(({ event, record }) => toAuditEntry(event, record));
  const build = performance.now() - t;
  t = performance.now();
  await putAuditEntries(entries);
  const put = performance.now() - t;
  const its2 = items(2000 + n, n).map(({ event, record }) => toAuditEntry(event, record));
  t = performance.now();
  await putAuditEntries(its2);
  const put2 = performance.now() - t;
  console.log(
    `${n} entries: build ${build.toFixed(0)} ms, append (cold chain) ${put.toFixed(0)} ms, again on a fresh chain ${put2.toFixed(0)} ms = ${(put2 / n).toFixed(2)} ms/entry`,
  );
}
{
  // Beside them: 100 entries appended one at a time, as the function did before batches.
  const single = items(3000, 100).map(({ event, record }) => toAuditEntry(event, record));
  const t = performance.now();
  for (const entry of single) await putAuditEntries([entry]);
  const ms = performance.now() - t;
  console.log(`100 entries one at a time: ${ms.toFixed(0)} ms = ${(ms / 100).toFixed(2)} ms/entry`);
}
await aws.stop();
