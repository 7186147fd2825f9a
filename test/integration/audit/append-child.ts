import { readFileSync } from 'node:fs';
import { toAuditEntry } from '../../../functions/audit/audit.ts';
import { putAuditEntry } from '../../../functions/audit/store.ts';
import type { BusEvent } from '../../../shared/events/envelope.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';

/**
 * One audit writer for the concurrent-writer test (chain-concurrency.test.ts): appends the events of the
 * JSON file named by its argument, in the file's order, printing one line per append, so the test can
 * SIGKILL it at any point. Reads AUDIT_TABLE and DYNAMODB_ENDPOINT from the environment, like the function.
 */
interface Item {
  event: BusEvent;
  record: Omit<RawRecord, 'value'> & { value: string };
}

const items = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as Item[];
process.stdout.write('ready\n');
for (const { event, record } of items) {
  const written = await putAuditEntry(
    toAuditEntry(event, { ...record, value: Buffer.from(record.value, 'base64') }),
  );
  process.stdout.write(`${written ? 'appended' : 'present'} ${event.eventId}\n`);
}
