import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawnKafkaTool } from '../../infra/local/kafka/broker.ts';
import { exited, LOCAL_DIR, terminate } from '../../infra/local/kafka/jvm.ts';
import type { LogTap } from './log-tap.ts';

/**
 * Kafka's own verification clients, the ones its system tests (ducktape ReplicationTest) judge replication
 * with: `VerifiableProducer` writes increasing integers and prints one JSON line per acknowledged
 * (`producer_send_success`) or failed (`producer_send_error`) send; `VerifiableConsumer --verbose` prints
 * every record it reads (`record_data`). A fault run drives them side by side with the bus's own producer.
 */
export interface VerifiableProducerRun {
  /** Acknowledged values, with the time of their acknowledgement (ms since epoch). */
  acked: Map<string, number>;
  /** Values whose send failed (the caller saw an error), with the error class. */
  failed: Map<string, string>;
  startedAt: number;
  /** Set when the tool exited before `stop()` (a bad option, a crash). */
  crashed: string | undefined;
  /** Resolves when the producer has sent everything and exited. */
  done: Promise<void>;
  stop(): Promise<void>;
}

interface ToolLine {
  name?: string;
  value?: string;
  exception?: string;
  timestamp?: number;
  topic?: string;
  partition?: number;
  offset?: number;
}

const readJsonLines = (child: ChildProcess, onLine: (line: ToolLine) => void): void => {
  if (!child.stdout) return;
  createInterface({ input: child.stdout }).on('line', (text) => {
    if (!text.startsWith('{')) return;
    try {
      onLine(JSON.parse(text) as ToolLine);
    } catch {
      // not one of the tool's JSON lines
    }
  });
};

/** acks=all, idempotent (Kafka 4's default, set here so the comparison does not depend on it). */
export const startVerifiableProducer = async (options: {
  brokers: string[];
  topic: string;
  messages: number;
  perSecond: number;
  tap: LogTap;
}): Promise<VerifiableProducerRun> => {
  const dir = join(LOCAL_DIR, 'faults');
  await mkdir(dir, { recursive: true });
  const config = join(dir, `verifiable-producer-${options.topic}.properties`);
  // The tool sets retries=0 by default, which idempotence refuses: retry as the Java client does by default.
  await writeFile(config, 'enable.idempotence=true\nacks=all\nretries=2147483647\n');
  const child = await spawnKafkaTool('org.apache.kafka.tools.VerifiableProducer', [
    '--bootstrap-server',
    options.brokers.join(','),
    '--topic',
    options.topic,
    '--max-messages',
    String(options.messages),
    '--throughput',
    String(Math.round(options.perSecond)),
    '--acks',
    '-1',
    '--producer.config',
    config,
  ]);
  child.stderr?.on('data', options.tap.sink('verifiable-producer:stderr'));
  const acked = new Map<string, number>();
  const failed = new Map<string, string>();
  readJsonLines(child, (line) => {
    if (line.value === undefined) return;
    if (line.name === 'producer_send_success') acked.set(line.value, line.timestamp ?? Date.now());
    else if (line.name === 'producer_send_error') failed.set(line.value, line.exception ?? 'error');
  });
  let stopping = false;
  const run: VerifiableProducerRun = {
    acked,
    failed,
    startedAt: Date.now(),
    crashed: undefined,
    done: exited(child),
    stop: () => {
      stopping = true;
      return terminate(child, 10_000);
    },
  };
  child.once('exit', (code, signal) => {
    if (!stopping) run.crashed = `VerifiableProducer exited by itself (code ${code}, signal ${signal})`;
  });
  return run;
};

export interface VerifiableConsumerRun {
  /** Every record read: value → the distinct offsets it was read at (two offsets = written twice). */
  offsets: Map<string, Set<string>>;
  /** Highest offset read per partition. */
  readonly positions: Map<number, number>;
  stop(): Promise<void>;
}

export const startVerifiableConsumer = async (options: {
  brokers: string[];
  topic: string;
  groupId: string;
  tap: LogTap;
}): Promise<VerifiableConsumerRun> => {
  const child = await spawnKafkaTool('org.apache.kafka.tools.VerifiableConsumer', [
    '--bootstrap-server',
    options.brokers.join(','),
    '--topic',
    options.topic,
    '--group-id',
    options.groupId,
    '--reset-policy',
    'earliest',
    '--verbose',
  ]);
  child.stderr?.on('data', options.tap.sink('verifiable-consumer:stderr'));
  const offsets = new Map<string, Set<string>>();
  const positions = new Map<number, number>();
  readJsonLines(child, (line) => {
    if (line.name !== 'record_data' || line.value === undefined) return;
    const partition = line.partition ?? -1;
    const offset = line.offset ?? -1;
    const seen = offsets.get(line.value) ?? new Set<string>();
    seen.add(`${partition}:${offset}`);
    offsets.set(line.value, seen);
    positions.set(partition, Math.max(positions.get(partition) ?? -1, offset));
  });
  return { offsets, positions, stop: () => terminate(child, 10_000) };
};
