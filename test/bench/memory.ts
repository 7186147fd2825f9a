import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { NODE_BIN } from './env.ts';

export interface MemoryReading {
  rssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
}

/** One sender's run in its own child process (memory-child.ts). */
export interface MemoryRun {
  mode: 'ours' | 'raw';
  events: number;
  /** Connected, before the first event (after GC): the process's floor. */
  start?: MemoryReading;
  /** Events sent before "before": until RSS after GC stopped growing (plateau) or the cap was reached. */
  warmup: number;
  plateau: boolean;
  /** RSS after GC at the end of each warm-up chunk, MiB. */
  warmupRss: number[];
  ms: number;
  before: MemoryReading;
  after: MemoryReading;
  /** The process's RSS high-water mark (getrusage maxrss), warm-up included. */
  peakRssMiB: number;
  /** memoryUsage() at the highest of the 100 ms samples (no GC forced): what the peak was made of. */
  atPeak?: {
    rssMiB: number;
    heapTotalMiB: number;
    heapUsedMiB: number;
    externalMiB: number;
    arrayBuffersMiB: number;
    spaces?: Record<string, number>;
  };
  rssTimeline: { s: number; rssMiB: number }[];
  rssGrowthPct: number;
  heapGrowthPct: number;
}

/**
 * Row 5: our producer and raw kafkajs each send the same events in a fresh child process of the same run:
 * RSS growth after the allocator plateau (ours), and peak RSS against raw kafkajs.
 */
export interface MemoryResult {
  ours: MemoryRun;
  raw: MemoryRun;
  /** ours.peakRssMiB / raw.peakRssMiB. */
  peakRatio: number;
}

export interface MemorySizes {
  events: number;
  /** Warm-up chunk: RSS is read after each one until it grows < 1 % over each of three in a row. */
  chunk: number;
  maxWarmup: number;
}

const runChild = (mode: 'ours' | 'raw', brokers: string[], sizes: MemorySizes): Promise<MemoryRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      NODE_BIN,
      [
        '--expose-gc',
        '--import',
        'tsx',
        join(REPO_ROOT, 'test/bench/memory-child.ts'),
        mode,
        brokers.join(','),
        String(sizes.events),
        String(sizes.chunk),
        String(sizes.maxWarmup),
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const line = stdout
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{"mode"'));
      if (code !== 0 || !line) {
        reject(
          new Error(
            `memory child (${mode}) failed (exit ${code}):\n${stdout.slice(-1500)}\n${stderr.slice(-1500)}`,
          ),
        );
        return;
      }
      const r = JSON.parse(line) as Omit<MemoryRun, 'rssGrowthPct' | 'heapGrowthPct'>;
      resolve({
        ...r,
        rssGrowthPct: ((r.after.rssMiB - r.before.rssMiB) / r.before.rssMiB) * 100,
        heapGrowthPct: ((r.after.heapUsedMiB - r.before.heapUsedMiB) / r.before.heapUsedMiB) * 100,
      });
    });
  });

/** Ours first, then raw: one process at a time, so neither shares the machine with the other. */
export const benchMemory = async (brokers: string[], sizes: MemorySizes): Promise<MemoryResult> => {
  const ours = await runChild('ours', brokers, sizes);
  const raw = await runChild('raw', brokers, sizes);
  return { ours, raw, peakRatio: ours.peakRssMiB / raw.peakRssMiB };
};

/** The highest sample's make-up, for a line of text. */
export const memoryAtPeak = (run: MemoryRun): string => {
  const p = run.atPeak;
  if (!p) return 'not sampled';
  const f = (n: number) => n.toFixed(0);
  const spaces = Object.entries(p.spaces ?? {})
    .map(([name, size]) => `${name} ${size}`)
    .join(', ');
  return `RSS ${f(p.rssMiB)}, heapTotal ${f(p.heapTotalMiB)} (${spaces}), heapUsed ${f(p.heapUsedMiB)}, external ${f(p.externalMiB)} (arrayBuffers ${f(p.arrayBuffersMiB)}) MiB`;
};
