import { logger } from '../../shared/log.ts';

/**
 * Captures everything written to stdout/stderr (Powertools logs, kafkajs logs routed through it, console)
 * while `fn` runs, at DEBUG level so the most talkative paths are included.
 */
export const captureLogs = async <T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> => {
  const lines: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  const level = logger.getLevelName();
  logger.setLogLevel('DEBUG');
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    return { result: await fn(), lines };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    logger.setLogLevel(level);
  }
};

/** Every string value nested in `value` (the things that must never reach a log line). */
export const stringValues = (value: unknown): string[] => {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringValues);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringValues);
  return [];
};
