import { describe, expect, it, vi } from 'vitest';
import { MalformedRecordError, PermanentError } from '../../../shared/errors.ts';
import { encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import type { DeadLetterPublisher } from '../../../shared/kafka/dlq.ts';
import { toDeadLetter } from '../../../shared/kafka/dlq.ts';
import type { Handler } from '../../../shared/kafka/process.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { processMskEvent, processMskRecords, toBatchResponse } from '../../../shared/lambda/batch.ts';
import { toMskEvent } from '../../../shared/lambda/msk-event.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { loadMskEvent } from '../../fixtures/msk/index.ts';
import { captureLogs } from '../../helpers/logs.ts';

const FAST = { attempts: 2, baseDelayMs: 1, maxDelayMs: 2, jitter: false };
const SOURCE = {
  eventSourceArn: 'arn:aws:kafka:eu-west-3:123456789012:cluster/c/x',
  bootstrapServers: 'b:9098',
};

/** A dead-letter sink that keeps letters in memory, or fails like an unreachable esante.dlq. */
const sink = (failing = false) => {
  const letters: ReturnType<typeof toDeadLetter>[] = [];
  const deadLetters: Pick<DeadLetterPublisher, 'send'> = {
    send: async (record, error, attempts) => {
      if (failing) throw new Error('esante.dlq unreachable');
      const letter = toDeadLetter(record, error, attempts, 'test');
      letters.push(letter);
      return letter;
    },
  };
  return { letters, deadLetters };
};

const confirmed = (partition: number, offset: number, appointmentId: string): RawRecord => {
  const e = encodeEvent(
    TOPICS.APPOINTMENT_CONFIRMED,
    { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId },
    sampleMeta(),
  );
  return {
    topic: TOPICS.APPOINTMENT_CONFIRMED,
    partition,
    offset: String(offset),
    timestamp: e.timestamp,
    key: Buffer.from(e.key),
    value: Buffer.from(e.value),
    headers: Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k, Buffer.from(v)])),
  };
};

const garbage = (partition: number, offset: number): RawRecord => ({
  ...confirmed(partition, offset, 'x'),
  value: Buffer.from('{"eventType":'),
});

describe('processMskEvent', () => {
  it('processes each partition in offset order and reports no failure when all succeed', async () => {
    // Prepare: offsets listed out of order inside one partition
    const seen: string[] = [];
    const handler: Handler = (event, { record }) => {
      seen.push(`${record.partition}:${record.offset}:${(event as { appointmentId: string }).appointmentId}`);
    };
    const event = toMskEvent(
      [confirmed(0, 12, 'a12'), confirmed(0, 10, 'a10'), confirmed(0, 11, 'a11')],
      SOURCE,
    );

    // Act
    const response = await processMskEvent(event, {
      resolveHandler: () => handler,
      retry: FAST,
      ...sink(),
    });

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(['0:10:a10', '0:11:a11', '0:12:a12']);
  });

  it('dead-letters a poison record with its bytes and reason and processes the rest of the batch', async () => {
    const handled: string[] = [];
    const { letters, deadLetters } = sink();
    const event = toMskEvent([confirmed(1, 5, 'a5'), garbage(1, 6), confirmed(1, 7, 'a7')], SOURCE);

    const response = await processMskEvent(event, {
      resolveHandler: () => (e) => void handled.push((e as { appointmentId: string }).appointmentId),
      retry: FAST,
      deadLetters,
    });

    expect(response.batchItemFailures).toEqual([]);
    expect(handled).toEqual(['a5', 'a7']);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      errorClass: 'MalformedRecordError',
      original: { partition: 1, offset: '6' },
    });
    expect(Buffer.from(letters[0]?.original.value ?? '', 'base64').toString()).toBe('{"eventType":');
  });

  it('retries a transient failure, then leaves it and the rest of its partition to the ESM, in order', async () => {
    // Prepare: partition 0's second record hits a downstream that stays down; partition 1 is healthy
    const { letters, deadLetters } = sink();
    const handled: string[] = [];
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const handler = vi.fn((e: unknown) => {
      const id = (e as { appointmentId: string }).appointmentId;
      if (id === 'a2') throw down;
      handled.push(id);
    });
    const event = toMskEvent(
      [confirmed(0, 1, 'a1'), confirmed(0, 2, 'a2'), confirmed(0, 3, 'a3'), confirmed(1, 7, 'b7')],
      SOURCE,
    );

    // Act
    const results = await processMskRecords(event, {
      resolveHandler: () => handler as Handler,
      retry: FAST,
      deadLetters,
    });

    // Assess: nothing dead-lettered, a2 tried twice, a3 not started, reported from offset 2 on
    expect(letters).toEqual([]);
    expect(handled.sort()).toEqual(['a1', 'b7']);
    expect(
      handler.mock.calls.filter(([e]) => (e as { appointmentId: string }).appointmentId === 'a2'),
    ).toHaveLength(2);
    expect(results.map((r) => ('failed' in r ? r.failed : r.outcome.status))).toEqual([
      'processed',
      'transient',
      'after-failure',
      'processed',
    ]);
    expect(toBatchResponse(results)).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: `${TOPICS.APPOINTMENT_CONFIRMED}-0`, offset: 2 } },
        { itemIdentifier: { partition: `${TOPICS.APPOINTMENT_CONFIRMED}-0`, offset: 3 } },
      ],
    });
  });

  it('dead-letters an AWS 4xx service error at once, as permanent', async () => {
    const { letters, deadLetters } = sink();
    const missingTable = Object.assign(new Error('Requested resource not found'), {
      name: 'ResourceNotFoundException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    const handler = vi.fn(() => {
      throw missingTable;
    });

    const response = await processMskEvent(toMskEvent([confirmed(0, 1, 'a1')], SOURCE), {
      resolveHandler: () => handler,
      retry: FAST,
      deadLetters,
    });

    expect(response.batchItemFailures).toEqual([]);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(letters[0]).toMatchObject({ errorClass: 'ResourceNotFoundException', attempts: 1 });
  });

  it('dead-letters a permanent error at once', async () => {
    const { letters, deadLetters } = sink();
    const handler = vi.fn(() => {
      throw new PermanentError('cannot ever work');
    });

    await processMskEvent(toMskEvent([confirmed(0, 1, 'a1')], SOURCE), {
      resolveHandler: () => handler,
      retry: FAST,
      deadLetters,
    });

    expect(handler).toHaveBeenCalledTimes(1);
    expect(letters[0]).toMatchObject({ errorClass: 'PermanentError', attempts: 1 });
  });

  it('reports a record that cannot be dead-lettered and every later record of its partition, in the Kafka shape', async () => {
    // Prepare: partition 0 has a poison record at offset 2 and the DLQ is down; partition 1 is healthy
    const handled: string[] = [];
    const event = toMskEvent(
      [confirmed(0, 1, 'a1'), garbage(0, 2), confirmed(0, 3, 'a3'), confirmed(1, 9, 'b9')],
      SOURCE,
    );

    const response = await processMskEvent(event, {
      resolveHandler: () => (e) => void handled.push((e as { appointmentId: string }).appointmentId),
      retry: FAST,
      ...sink(true),
    });

    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: `${TOPICS.APPOINTMENT_CONFIRMED}-0`, offset: 2 } },
        { itemIdentifier: { partition: `${TOPICS.APPOINTMENT_CONFIRMED}-0`, offset: 3 } },
      ],
    });
    expect(handled.sort()).toEqual(['a1', 'b9']);
  });

  it('leaves records to the ESM when the invocation is about to time out', async () => {
    const handler = vi.fn();
    const results = await processMskRecords(
      toMskEvent([confirmed(0, 1, 'a1'), confirmed(0, 2, 'a2')], SOURCE),
      {
        resolveHandler: () => handler,
        retry: FAST,
        ...sink(),
        remainingTimeMs: () => 1_000,
        reserveMs: 5_000,
      },
    );

    expect(handler).not.toHaveBeenCalled();
    expect(results.map((r) => ('failed' in r ? r.failed : r.outcome.status))).toEqual([
      'not-started',
      'not-started',
    ]);
  });

  it('rejects a payload that is not a Kafka event, naming the bad paths', async () => {
    const act = processMskEvent(
      { Records: [{ eventSource: 'aws:sqs' }] },
      {
        resolveHandler: () => undefined,
        retry: FAST,
        ...sink(),
      },
    );

    await expect(act).rejects.toBeInstanceOf(MalformedRecordError);
    await expect(act).rejects.toThrow(/eventSource/);
  });

  it("decodes AWS's documented example and dead-letters its non-catalog record as UNKNOWN_TOPIC", async () => {
    const { letters, deadLetters } = sink();

    const response = await processMskEvent(loadMskEvent('aws-example'), {
      resolveHandler: () => undefined,
      retry: FAST,
      deadLetters,
    });

    expect(response.batchItemFailures).toEqual([]);
    expect(letters[0]).toMatchObject({
      originalTopic: 'mytopic',
      errorCode: 'UNKNOWN_TOPIC',
      original: { offset: '15' },
    });
    expect(letters[0]?.original.headers.headerKey).toBe(Buffer.from('headerValue').toString('base64'));
    expect(Buffer.from(letters[0]?.original.value ?? '', 'base64').toString()).toBe('Hello, this is a test.');
  });

  it('logs record coordinates and error classes but never payload values', async () => {
    // Prepare: the fixture's appointment.requested carries a PHI marker in `reason`; its handler fails
    const { deadLetters } = sink();

    // Act (every log line captured, at DEBUG)
    const { lines } = await captureLogs(() =>
      processMskEvent(loadMskEvent('appointments'), {
        resolveHandler: () => () => {
          throw new PermanentError(`downstream said ${PHI_MARKER}`);
        },
        retry: FAST,
        deadLetters,
      }),
    );

    const logged = lines.join('\n');
    expect(logged).toContain('evt-fixture-1');
    expect(logged).toContain('Record dead-lettered');
    expect(logged).not.toContain(PHI_MARKER);
    expect(logged).not.toContain('chest pain');
  });
});

describe('processMskEvent with a partition handler', () => {
  it('gives each partition its decoded records at once, in offset order, and reports them processed', async () => {
    // Prepare
    const calls: string[][] = [];
    const perRecord = vi.fn();
    const event = toMskEvent(
      [confirmed(0, 11, 'a11'), confirmed(1, 5, 'b5'), confirmed(0, 10, 'a10'), confirmed(0, 12, 'a12')],
      SOURCE,
    );
    // Act
    const results = await processMskRecords(event, {
      resolveHandler: () => perRecord,
      resolvePartitionHandler: () => async (items) => {
        calls.push(items.map(({ event: e }) => (e as { appointmentId: string }).appointmentId));
      },
      retry: FAST,
      deadLetters: sink().deadLetters,
    });
    // Assess
    expect(calls.sort()).toEqual([['a10', 'a11', 'a12'], ['b5']]);
    expect(perRecord).not.toHaveBeenCalled();
    expect(results.map((r) => ('outcome' in r ? r.outcome.status : r.failed))).toEqual(
      Array(4).fill('processed'),
    );
  });

  it('handles the partition record by record when a record does not decode, or the partition step fails', async () => {
    // Prepare
    const { letters, deadLetters } = sink();
    const perRecord: string[] = [];
    const partitionStep = vi.fn(async () => {
      throw new Error('store unreachable');
    });
    const options = {
      resolveHandler: () => (e: unknown) => {
        perRecord.push((e as { appointmentId: string }).appointmentId);
      },
      resolvePartitionHandler: () => partitionStep,
      retry: FAST,
      deadLetters,
    };
    // Act
    const { result, lines } = await captureLogs(async () => ({
      undecodable: await processMskEvent(
        toMskEvent([confirmed(0, 1, 'a1'), garbage(0, 2), confirmed(0, 3, 'a3')], SOURCE),
        options,
      ),
      failing: await processMskEvent(
        toMskEvent([confirmed(1, 1, 'b1'), confirmed(1, 2, 'b2')], SOURCE),
        options,
      ),
    }));
    const { undecodable, failing } = result;
    // Assess: the garbage dead-lettered once, its neighbours handled; the failed step redone record by record
    expect(lines.some((l) => l.includes('Partition step failed'))).toBe(true);
    expect(undecodable.batchItemFailures).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(partitionStep).toHaveBeenCalledTimes(1);
    expect(failing.batchItemFailures).toEqual([]);
    expect(perRecord).toEqual(['a1', 'a3', 'b1', 'b2']);
  });
});
