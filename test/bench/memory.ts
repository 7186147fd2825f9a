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

/** Row 5: producer RSS and heap before and after `events` published events, in a fresh child process. */
export interface MemoryResult {
  events: number;
  warmup: number;
  ms: number;
  before: MemoryReading;
  after: MemoryReading;
  peakRssMiB: number;
  rssTimeline: { s: number; rssMiB: number }[];
  rssGrowthPct: number;
  heapGrowthPct: number;
}

export const benchMemory = (brokers: string[], events: number, warmup: number): Promise<MemoryResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      NODE_BIN,
      [
        '--expose-gc',
        '--import',
        'tsx',
        join(REPO_ROOT, 'test/bench/memory-child.ts'),
        brokers.join(','),
        String(events),
        String(warmup),
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
        .find((l) => l.startsWith('{"events"'));
      if (code !== 0 || !line) {
        reject(
          new Error(`memory child failed (exit ${code}):\n${stdout.slice(-1500)}\n${stderr.slice(-1500)}`),
        );
        return;
      }
      const r = JSON.parse(line) as Omit<MemoryResult, 'rssGrowthPct' | 'heapGrowthPct'>;
      resolve({
        ...r,
        rssGrowthPct: ((r.after.rssMiB - r.before.rssMiB) / r.before.rssMiB) * 100,
        heapGrowthPct: ((r.after.heapUsedMiB - r.before.heapUsedMiB) / r.before.heapUsedMiB) * 100,
      });
    });
  });
