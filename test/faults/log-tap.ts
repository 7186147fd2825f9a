import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { PHI_MARKER } from '../fixtures/events.ts';

/**
 * Every log line of a fault run goes through one tap: the ESM child processes' stdout and stderr, and this
 * process's own. The tap counts lines, keeps the ones that carry a PHI value (leaks) and, when given a file,
 * writes everything there for a human to read after the run.
 *
 * Every PHI field of every event the scenarios publish holds a value containing PHI_MARKER (in any case:
 * e-mail addresses are lower case), plus the few literal values listed in PHI_LITERALS. So one
 * case-insensitive search per line finds any PHI value, whichever event it came from.
 */
export const PHI_LITERALS = ['198.51.100.77'];
const phiPattern = new RegExp(
  [PHI_MARKER, ...PHI_LITERALS].map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
  'i',
);

export class LogTap {
  lines = 0;
  readonly leaks: string[] = [];
  readonly #counters = new Map<string, number>();
  readonly #file: WriteStream | undefined;
  #restore: (() => void) | undefined;

  /** `count`: substrings whose occurrences are counted (e.g. log messages a scenario reports). */
  constructor(
    private readonly count: string[] = [],
    file?: string,
  ) {
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      this.#file = createWriteStream(file, { flags: 'w' });
    }
  }

  line(source: string, text: string): void {
    if (!text) return;
    this.lines += 1;
    if (phiPattern.test(text)) this.leaks.push(`${source}: ${text.slice(0, 300)}`);
    for (const needle of this.count)
      if (text.includes(needle)) this.#counters.set(needle, (this.#counters.get(needle) ?? 0) + 1);
    this.#file?.write(`${source}\t${text}\n`);
  }

  /** A line splitter for a stream of chunks (partial lines are kept until their end arrives). */
  sink(source: string): (chunk: Buffer | string) => void {
    let rest = '';
    return (chunk) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) this.line(source, part);
    };
  }

  counted(needle: string): number {
    return this.#counters.get(needle) ?? 0;
  }

  /** Passes this process's stdout and stderr through the tap until `release()`; `echo` also prints them. */
  tapProcess(echo = true): void {
    if (this.#restore) return;
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const outSink = this.sink('self:stdout');
    const errSink = this.sink('self:stderr');
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      outSink(Buffer.from(chunk));
      return echo ? out(chunk, ...rest) : true;
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      errSink(Buffer.from(chunk));
      return echo ? err(chunk, ...rest) : true;
    }) as typeof process.stderr.write;
    this.#restore = () => {
      process.stdout.write = out;
      process.stderr.write = err;
    };
  }

  async release(): Promise<void> {
    this.#restore?.();
    this.#restore = undefined;
    await new Promise<void>((ok) => (this.#file ? this.#file.end(() => ok()) : ok()));
  }
}
