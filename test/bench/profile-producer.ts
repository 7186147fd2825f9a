/**
 * `node --cpu-prof --cpu-prof-dir DIR --import tsx test/bench/profile-producer.ts [events] [ours|raw]`: one
 * producer peer alone on a bench broker (row 1's caller, uncompressed), so a CPU profile shows where its time
 * goes. The profile's summary by function is printed by `node test/bench/profile-summary.mjs DIR/*.cpuprofile`.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
const { startBenchBroker } = await import('./env.ts');
const { benchOurs, benchRaw } = await import('./producer.ts');
const events = Number(process.argv[2] ?? 50_000);
const mode = process.argv[3] ?? 'ours';
if (mode !== 'ours' && mode !== 'raw') throw new Error(`mode must be ours or raw, not ${mode}`);
const bench = mode === 'ours' ? benchOurs : benchRaw;
const broker = await startBenchBroker();
try {
  await bench(broker.kafka, 5_000);
  const result = await bench(broker.kafka, events);
  console.log(`${mode}: ${Math.round(result.perSecond)}/s over ${events} events`);
} finally {
  await broker.stop();
}
