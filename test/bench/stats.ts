/** Small statistics for the bench: medians of rounds, latency percentiles (nearest-rank). */
export const median = (values: number[]): number => percentile(values, 50);

export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
};

/** Events (or records) per second over a wall-clock span. */
export const rate = (count: number, ms: number): number => (ms > 0 ? (count * 1000) / ms : Number.NaN);

export const round = (value: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** 12345.6 → "12,346"; ratios and small values keep two significant decimals. */
export const fmt = (value: number, digits?: number): string => {
  if (!Number.isFinite(value)) return 'n/a';
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
