import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toAuditEntry } from '../../../functions/audit/audit.ts';
import { putAuditEntries } from '../../../functions/audit/store.ts';
import type { BusEvent } from '../../../shared/events/envelope.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';

/**
 * One audit writer for the concurrent-writer test (chain-concurrency.test.ts): appends the events of the
 * JSON file named by its first argument, in the file's order, printing one line per event, so the test can
 * SIGKILL it at any point. With a second argument `batches`, it appends them in batches of 1 to 6 events
 * (as the function appends a partition's records), else one at a time. Reads AUDIT_TABLE and
 * DYNAMODB_ENDPOINT from the environment, like the function.
 */
interface Item {
  event: BusEvent;
  record: Omit<RawRecord, 'value'> & { value: string };
}

const items = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as Item[];
const batches = process.argv[3] === 'batches';
process.stdout.write('ready\n');
for (let i = 0; i < items.length; ) {
  const batch = items.slice(i, i + (batches ? 1 + randomInt(6) : 1));
  i += batch.length;
  const written = await putAuditEntries(
    batch.map(({ event, record }) =>
      toAuditEntry(event, { ...record, value: Buffer.from(record.value, 'base64') }),
    ),
  );
  for (const [j, { event }] of batch.entries()) {
    process.stdout.write(`${written[j] ? 'appended' : 'present'} ${event.eventId}\n`);
  }
}
