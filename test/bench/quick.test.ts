import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';

/**
 * The smoke run of the benchmark suite: `npm run bench -- --quick` starts its own broker, measures every
 * row with small counts and prints the table. Only the shape is checked here, never the numbers (no timing
 * assertions on a shared machine).
 */
const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });

const cellsOf = (line: string): string[] =>
  line
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());

describe('npm run bench -- --quick', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('prints a table with every row filled, and writes the report and raw figures', async () => {
    // Prepare
    outDir = await mkdtemp(join(tmpdir(), 'bench-quick-'));

    // Act
    const { code, stdout, stderr } = await run(['--quick', '--out', outDir]);

    // Assess
    expect(code, stderr.slice(-3000)).toBe(0);
    const lines = stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
    const [header, ...body] = lines;
    expect(cellsOf(header ?? '')).toEqual([
      'Row',
      'Measure',
      'Ours',
      'Beside it',
      'Ratio / figure',
      'Goal',
      'Met',
    ]);
    const rows = body.map(cellsOf);
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(['1', '2', '3', '4', '5']));
    for (const row of rows) {
      expect(row).toHaveLength(7);
      for (const cell of row) expect(cell, row.join(' | ')).toMatch(/\S/);
      expect(row.join(' '), row.join(' | ')).not.toMatch(/\bn\/a\b|NaN|undefined|Infinity/);
    }
    // Row 1 has the three peers, on the loopback and through the delaying proxy; row 4 a bundle and a
    // cold-init line per function.
    const peers = [
      expect.stringContaining('raw kafkajs'),
      expect.stringContaining('seed-style'),
      expect.stringContaining('Java ProducerPerformance'),
    ];
    for (const where of ['on the loopback', 'through a 1 ms-each-way proxy']) {
      const row1 = rows.filter((r) => r[0] === '1' && r[1]?.includes(where));
      expect(
        row1.map((r) => r[3]),
        where,
      ).toEqual(peers);
    }
    expect(rows.some((r) => r[0] === '4' && r[1]?.includes('Cold init'))).toBe(true);

    const results = JSON.parse(await readFile(join(outDir, 'benchmarks.json'), 'utf8'));
    expect(results.mode).toBe('quick');
    expect(Object.keys(results)).toEqual(
      expect.arrayContaining([
        'machine',
        'producer',
        'consumer',
        'latency',
        'lambda',
        'memory',
        'rtt',
        'compression',
      ]),
    );
    const md = await readFile(join(outDir, 'benchmarks.md'), 'utf8');
    expect(md).toContain(header);
    expect(md).toContain('npm run bench -- --quick');
  }, 400_000);
});
