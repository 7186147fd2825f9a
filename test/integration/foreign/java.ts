import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchKafka } from '../../../infra/local/kafka/broker.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'JavaClient.java');

/** A record as the Java client writes or reads it. */
export interface JavaRecord {
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, Buffer>;
  partition?: number;
  offset?: string;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

const toLine = (r: JavaRecord): string =>
  [
    r.key === null ? '-' : b64(r.key),
    b64(r.value),
    Object.keys(r.headers).length === 0
      ? '-'
      : Object.entries(r.headers)
          .map(([k, v]) => `${k}=${b64(v)}`)
          .join(','),
    r.partition === undefined ? '-' : String(r.partition),
  ].join('\t');

const fromLine = (line: string): JavaRecord => {
  const [key = '-', value = '', headers = '-', partition = '0', offset = '0'] = line.split('\t');
  return {
    key: key === '-' ? null : Buffer.from(key, 'base64'),
    value: Buffer.from(value, 'base64'),
    headers:
      headers === '-'
        ? {}
        : Object.fromEntries(
            headers.split(',').map((h) => {
              const at = h.indexOf('=');
              return [h.slice(0, at), Buffer.from(h.slice(at + 1), 'base64')];
            }),
          ),
    partition: Number(partition),
    offset,
  };
};

export type JavaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface JavaClient {
  /** Produces each job's records in one batch with its compression; returns "topic partition offset" per record. */
  produce(
    brokers: string,
    jobs: { topic: string; compression: JavaCompression; records: JavaRecord[] }[],
  ): Promise<string[]>;
  /** One transaction aborted, then one committed, on `topic`. */
  transactional(
    brokers: string,
    topic: string,
    aborted: JavaRecord[],
    committed: JavaRecord[],
  ): Promise<string[]>;
  /** Reads `topic` from the beginning until `count` records whose value contains `marker`. */
  consume(brokers: string, topic: string, marker: string, count: number): Promise<JavaRecord[]>;
  close(): Promise<void>;
}

/** Kafka's Java client (the broker's own jars, fetched into ~/.m2 by infra/local/kafka/pom.xml), compiled once. */
export const javaClient = async (): Promise<JavaClient> => {
  const libs = await fetchKafka();
  const dir = await mkdtemp(join(tmpdir(), 'java-client-'));
  const classpath = [dir, join(libs, '*')].join(delimiter);
  const log4j = join(dir, 'log4j2.properties');
  await writeFile(log4j, 'status = error\nrootLogger.level = off\n');
  const exec = (cmd: string, args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0
          ? resolve(out)
          : reject(new Error(`${cmd} ${args[0]} exited ${code}:\n${err.slice(-2000)}`)),
      );
    });
  await exec('javac', ['-cp', classpath, '-d', dir, SOURCE]);
  let n = 0;
  const java = (args: string[]) =>
    exec('java', [
      '-Xmx256m',
      `-Dlog4j2.configurationFile=${log4j}`,
      '-cp',
      classpath,
      'JavaClient',
      ...args,
    ]);
  const file = async (records: JavaRecord[]) => {
    const path = join(dir, `records-${n++}.tsv`);
    await writeFile(path, `${records.map(toLine).join('\n')}\n`);
    return path;
  };
  const lines = (out: string) => out.split('\n').filter(Boolean);
  return {
    async produce(brokers, jobs) {
      const args: string[] = [];
      for (const job of jobs) args.push(job.topic, job.compression, await file(job.records));
      return lines(await java(['produce', brokers, ...args]));
    },
    async transactional(brokers, topic, aborted, committed) {
      const txId = `interop-${Date.now()}-${n}`;
      return lines(
        await java(['transactional', brokers, topic, txId, await file(aborted), await file(committed)]),
      );
    },
    async consume(brokers, topic, marker, count) {
      return lines(await java(['consume', brokers, topic, marker, String(count), '60000'])).map(fromLine);
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
};

/** The bytes of a record as the bus sees them, for comparison with a Java record. */
export const headersOf = (record: RawRecord): Record<string, Buffer> =>
  Object.fromEntries(Object.entries(record.headers).filter((e): e is [string, Buffer] => e[1] !== undefined));
