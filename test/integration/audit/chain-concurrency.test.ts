import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAuditEntry } from '../../../functions/audit/audit.ts';
import { chainSlots, forgetChainHeads, putAuditEntry } from '../../../functions/audit/store.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { verifyAuditTrail, verifyChainAt } from '../../../infra/ops/audit-cli.ts';
import { encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { resetClients } from '../../../shared/lambda/clients.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const WRITERS = 4;
const ROUNDS = 6;
const SHARED = 12; // events every writer appends (redeliveries, replays beside the original)
const OWN = 4; // events only one writer appends

let aws: LocalAws;
let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
  Object.assign(process.env, aws.env);
  resetClients();
  dir = await mkdtemp(join(tmpdir(), 'audit-writers-'));
});

afterAll(async () => {
  await aws?.stop();
  process.env = saved;
  resetClients();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const eventFor = (partition: number, offset: number) => {
  const { event, value } = encodeEvent(
    TOPICS.APPOINTMENT_CANCELLED,
    { ...samplePayloads[TOPICS.APPOINTMENT_CANCELLED], appointmentId: `a-${partition}-${offset}` },
    sampleMeta(),
  );
  const record: RawRecord = {
    topic: TOPICS.APPOINTMENT_CANCELLED,
    partition,
    offset: String(offset),
    timestamp: '0',
    key: null,
    value: Buffer.from(value),
    headers: {},
  };
  return { event, record };
};

type Item = ReturnType<typeof eventFor>;

const shuffled = <T>(items: T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/** Starts a writer process; resolves when it exits (killed or done). `kill` SIGKILLs it after n appends. */
const startWriter = async (file: string, killAfter: number | undefined, batches: boolean) => {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'append-child.ts'), file, ...(batches ? ['batches'] : [])],
    { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let appended = 0;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (line === 'ready') {
      if (killAfter === 0) child.kill('SIGKILL');
      return;
    }
    appended++;
    if (appended === killAfter) child.kill('SIGKILL');
  });
  return new Promise<{ killed: boolean; code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ killed: signal === 'SIGKILL', code, stderr })),
  );
};

describe('audit chain under concurrent writers', () => {
  it(`${WRITERS} writers, one at a time or in batches, killed at random points, ${ROUNDS} rounds: every event chained once, no gap, verify clean`, async () => {
    const summary: string[] = [];
    let spansSeen = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Prepare: one fresh chain; each writer gets the shared events and its own, in its own order
      const startedAt = Date.now();
      const partition = 500 + round;
      const chainKey = `${TOPICS.APPOINTMENT_CANCELLED}-${partition}`;
      const shared = Array.from({ length: SHARED }, (_, i) => eventFor(partition, i));
      const own = Array.from({ length: WRITERS }, (_, w) =>
        Array.from({ length: OWN }, (_, i) => eventFor(partition, SHARED + w * OWN + i)),
      );
      const lists: Item[][] = own.map((mine) => shuffled([...shared, ...mine]));
      const files = await Promise.all(
        lists.map(async (list, w) => {
          const file = join(dir, `round-${round}-writer-${w}.json`);
          const items = list.map(({ event, record }) => ({
            event,
            record: { ...record, value: record.value?.toString('base64') },
          }));
          await writeFile(file, JSON.stringify(items));
          return file;
        }),
      );

      // Act: all writers at once; half of them SIGKILLed after a random number of appends (0 = at start),
      // while this chain is verified beside them, over and over
      const victims = new Set(shuffled([...Array(WRITERS).keys()]).slice(0, WRITERS / 2));
      // Half the writers append in batches (one item claiming several positions), half one entry at a time
      const batched = new Set(shuffled([...Array(WRITERS).keys()]).slice(0, WRITERS / 2));
      let writing = true;
      const midway: string[] = [];
      const verifying = (async () => {
        while (writing) {
          const { problem } = await verifyChainAt(chainKey);
          if (problem) midway.push(JSON.stringify(problem));
        }
      })();
      const exits = await Promise.all(
        files.map((file, w) =>
          startWriter(file, victims.has(w) ? randomInt(SHARED + OWN) : undefined, batched.has(w)),
        ),
      );
      writing = false;
      await verifying;
      // The killed writers' records are delivered again (as the ESM retries a failed invocation)
      forgetChainHeads();
      for (const [w, exit] of exits.entries()) {
        if (!exit.killed) continue;
        for (const { event, record } of lists[w] as Item[]) await putAuditEntry(toAuditEntry(event, record));
      }

      // Assess
      for (const exit of exits) if (!exit.killed) expect(exit.stderr).toBe('');
      const report = await verifyAuditTrail();
      const slots = await chainSlots(chainKey);
      const spans = new Set(slots.filter((s) => s.spanStart !== undefined).map((s) => s.spanStart)).size;
      spansSeen += spans;
      const expected = [...shared, ...own.flat()].map((i) => i.event.eventId).sort();
      expect(midway).toEqual([]);
      expect(report.problems).toEqual([]);
      expect(report.pendingClaims).toEqual([]);
      expect(slots.map((s) => s.eventId).sort()).toEqual(expected);
      expect(slots.map((s) => s.seq)).toEqual(expected.map((_, i) => i + 1));
      summary.push(
        `round ${round + 1}: ${slots.length} entries (${spans} batch spans), ${exits.filter((e) => e.killed).length} killed, ${seconds(Date.now() - startedAt)}`,
      );
    }
    console.log(`audit chain, ${WRITERS} concurrent writers: ${summary.join('; ')}`);
    expect(spansSeen).toBeGreaterThan(0); // the batched writers did claim spans
    // A bound, not a timing check: each round starts four Node processes, slow on a loaded machine.
  }, 300_000);
});
