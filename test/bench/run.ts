/**
 * Entry point of `npm run bench [-- --quick] [-- --out DIR]`. The environment must be set before any
 * module of the bus loads: Powertools reads its log level when the logger is built, and resets to it on
 * every invocation (injectLambdaContext), so only warnings and errors reach the output. Metrics are still
 * recorded per record, but the EMF line each invocation would print is off (it would bury the table).
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
delete process.env.KAFKA_BROKERS;
await import('./main.ts');
