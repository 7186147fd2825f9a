/**
 * `npm start -- --demo`: the demo's own lines stand out, without the functions' INFO logs and EMF metrics.
 * Powertools reads its log level when the logger is built, and puts it back after every warm invocation
 * (a later `setLogLevel` does not last), so this is set before anything builds it: start.ts imports this
 * module first. A level given in the environment wins.
 */
if (process.argv.slice(2).includes('--demo')) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}
