import { defineConfig } from 'vitest/config';

/**
 * Test output is for people: a passing run prints test results, not the code's JSON log lines or EMF
 * metrics. Powertools' logger and metrics are off for the whole run (the global setup in this process and
 * the test workers it forks inherit this environment); a test that asserts on logs raises the level itself
 * (test/helpers/logs.ts), and `POWERTOOLS_LOG_LEVEL=DEBUG npx vitest …` shows everything.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

/**
 * Three projects: `unit` (no I/O, fast) and `integration` (a real Kafka broker, started once for the
 * whole run by the global setup unless KAFKA_BROKERS points at an existing one) make `npm test`; `bench`
 * (`npm run test:bench`: the benchmark suite's smoke run, which starts brokers of its own) is heavier and
 * runs on its own, like `npm run bench` and `npm run test:faults`.
 */
export default defineConfig({
  test: {
    typecheck: { enabled: false },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'bench',
          include: ['test/bench/**/*.test.ts'],
          environment: 'node',
          testTimeout: 400_000,
        },
      },
    ],
  },
});
