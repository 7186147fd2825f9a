import { type BenchResults, e2eLimit, type Goal, goals, pairedRatio } from './report.ts';
import { fmt, median } from './stats.ts';

/**
 * The analysis printed under the table: every sentence is built from the run it sits beside, so the
 * report cannot describe an older run. Interpretations that come from a profile rather than from these
 * figures live in test/bench/methods.md, each dated to the run it was made on.
 */
const perSecond = (xs: { perSecond: number }[]) => median(xs.map((x) => x.perSecond));

const range = (a: { perSecond: number }[], b: { perSecond: number }[]): string => {
  const ratios = a.map((x, i) => x.perSecond / (b[i]?.perSecond ?? Number.NaN)).filter(Number.isFinite);
  if (ratios.length < 2) return '';
  return ` (rounds from ${fmt(Math.min(...ratios))} to ${fmt(Math.max(...ratios))})`;
};

const against = (g: Goal | undefined): string => {
  if (!g) return '';
  if (g.kind === 'report') return '';
  return g.met ? `, goal ${g.text} met` : `, goal ${g.text} **missed**`;
};

export const analysisText = (r: BenchResults): string => {
  const gs = goals(r);
  const find = (name: string) => gs.find((g) => g.name === name);
  const p = r.producer;
  const q = r.rtt.producer;
  const c = r.consumer;
  const m = r.memory;
  const rttMs = 2 * r.rtt.delayMs;
  const when = `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, \`${r.command}\``;
  const out: string[] = [`## What this run shows (${when})`, ''];
  if (r.mode === 'quick') {
    out.push(
      '> A `--quick` smoke run: small counts, one round; the figures show that every row runs beside its peer, not what the code can do.',
      '',
    );
  }

  out.push(
    `**Producer (row 1).** On the loopback, \`publish\` ran at ${fmt(perSecond(p.ours))} events/s against raw kafkajs \`sendBatch\` at ${fmt(perSecond(p.raw))}: ours/raw ${fmt(pairedRatio(p.ours, p.raw))}${range(p.ours, p.raw)}${against(find('ours/raw'))}. ` +
      `The seed-style awaited send reached ${fmt(perSecond(p.seedStyle))} events/s (ours/seed ${fmt(pairedRatio(p.ours, p.seedStyle))}): one produce round trip per event, ${fmt(1000 / perSecond(p.seedStyle))} ms each on the loopback in this run. ` +
      `Through the proxy adding ${r.rtt.delayMs} ms each way (a ${rttMs} ms round trip, as an acks=all produce crossing availability zones on MSK), the seed style ran at ${fmt(perSecond(q.seedStyle))} events/s (${fmt(1000 / perSecond(q.seedStyle))} ms per event; at most ${fmt(1000 / rttMs)}/s fit one ${rttMs} ms round trip each) while \`publish\` ran at ${fmt(perSecond(q.ours))}: ours/seed ${fmt(pairedRatio(q.ours, q.seedStyle))}${against(find('rtt ours/seed-style'))}; ours/raw there ${fmt(pairedRatio(q.ours, q.raw))}. ` +
      `Java's ProducerPerformance (same value bytes, acks=all) ran at ${fmt(perSecond(p.java))} events/s on the loopback and ${fmt(perSecond(q.java))} through the proxy: ours/Java ${fmt(pairedRatio(p.ours, p.java))} and ${fmt(pairedRatio(q.ours, q.java))}.`,
    '',
  );

  out.push(
    `**Consumer (row 2).** On the same ${fmt(c.utility[0]?.records ?? Number.NaN)} records, the consumer utility (decode, validate, commit per record) read ${fmt(perSecond(c.utility))} records/s, raw kafkajs \`eachBatch\` (offsets resolved, nothing decoded) ${fmt(perSecond(c.raw))}, and Kafka's ConsumerPerformance ${fmt(perSecond(c.java))} (after its group join; ${fmt(median(c.java.map((j) => j.perSecondWithJoin)))} including it): utility/raw ${fmt(pairedRatio(c.utility, c.raw))}, utility/Java ${fmt(pairedRatio(c.utility, c.java))}. ` +
      `The emulator driving a no-op function read ${fmt(perSecond(c.esmNoop))} records/s and driving the audit function with DynamoDB ${fmt(perSecond(c.esmAudit))}: the store path runs at ${fmt(perSecond(c.esmAudit) / perSecond(c.esmNoop))} of the emulator's own rate.`,
    '',
  );

  const latency = (where: string, l: BenchResults['latency'], goalName: string) => {
    const limit = e2eLimit(r, l);
    const readAll = l.ours.readBack === l.ours.events;
    // Older result files have no per-invocation figures.
    const inv = l.ours.invocations ?? [];
    const split =
      inv.length === 0
        ? ''
        : `The ${inv.length} invocations held a median of ${fmt(median(inv.map((i) => i.records)))} records; each started a median of ${fmt(median(inv.map((i) => i.startedAfterMs)) - r.settings.esmBatchingWindowMs)} ms after its oldest record's scheduled send plus the window (that record's way to the ESM: linger, produce, fetch), and the handler took a median of ${fmt(median(inv.map((i) => i.handlerMs)))} ms (longest ${fmt(Math.max(...inv.map((i) => i.handlerMs)))}): a batch's oldest record waits the window and then the whole batch's invocation. `;
    return (
      `${where}: p50 ${fmt(l.ours.p50Ms)} ms, p99 ${fmt(l.ours.p99Ms)} ms against a limit of ${fmt(limit)} ms (3 × Kafka's EndToEndLatency p99 of ${fmt(l.kafka.p99Ms)} ms + the ${r.settings.esmBatchingWindowMs} ms batching window + ${r.settings.producer.lingerMs} ms linger)${against(find(goalName))}. ${split}` +
      (readAll
        ? `All ${fmt(l.ours.events)} entries were read back.`
        : `Only ${fmt(l.ours.readBack)} of ${fmt(l.ours.events)} entries were read back.`)
    );
  };
  out.push(
    `**Publish → audit entry (row 3).** ${latency('On the loopback', r.latency, 'e2e p99 (ms)')} ${latency(`Through the ${r.rtt.delayMs} ms proxy`, r.rtt.latency, 'rtt e2e p99 (ms)')}`,
    '',
  );

  const overBare = r.lambda.coldInit.filter((ci) => {
    const g = find(`${ci.name} cold init / bare`);
    return g?.kind !== 'report' && !g?.met;
  });
  const floors = r.lambda.floors ?? [];
  const overFloor = floors.filter((f) => !find(`${f.name} cold init / floor`)?.met).map((f) => f.name);
  const overSize = r.lambda.functions.filter((f) => !find(`${f.name} bundle (KB)`)?.met);
  out.push(
    `**Lambda (row 4).** Bare handler cold init ${fmt(r.lambda.bare.initMs)} ms; ` +
      r.lambda.coldInit
        .map((ci) => `${ci.name} ${fmt(ci.initMs)} ms (${fmt(ci.initMs / r.lambda.bare.initMs)}×)`)
        .join(', ') +
      `. ${overBare.length === 0 ? '' : `Over 2× bare (no floor measured): ${overBare.map((ci) => ci.name).join(', ')}. `}` +
      (floors.length === 0
        ? ''
        : `Against each function's floor (a handler bundled the same way that loads only its SDK clients): ${floors
            .map((f) => {
              const ci = r.lambda.coldInit.find((c) => c.name === f.name);
              return `${f.name} ${fmt(ci?.initMs ?? Number.NaN)} / ${fmt(f.initMs)} ms (${fmt((ci?.initMs ?? Number.NaN) / f.initMs)}×)`;
            })
            .join(
              ', ',
            )}; ${overFloor.length === 0 ? 'every one within 1.3× its floor' : `over 1.3×: ${overFloor.join(', ')} (test/bench/methods.md says where the time goes)`}. `) +
      (overSize.length === 0
        ? 'Every bundle is within 300 KB.'
        : `Over 300 KB: ${overSize.map((f) => f.name).join(', ')}.`),
    '',
  );

  const curve = m.ours.warmupRss.map((x) => fmt(x, 0)).join(' → ');
  out.push(
    `**Memory (row 5).** Our producer's RSS after GC during the warm-up, per chunk of ${fmt(m.ours.warmup / Math.max(1, m.ours.warmupRss.length))} events: ${curve} MiB; ` +
      (m.ours.plateau
        ? `it grew less than 1 % over each of the last three chunks, so the plateau was reached after ${fmt(m.ours.warmup)} events. `
        : `it was still growing when the warm-up cap of ${fmt(m.ours.warmup)} events was reached, so "before" is not on a plateau. `) +
      `Over the next ${fmt(m.ours.events)} events RSS went ${fmt(m.ours.before.rssMiB, 1)} → ${fmt(m.ours.after.rssMiB, 1)} MiB (${m.ours.rssGrowthPct >= 0 ? '+' : ''}${fmt(m.ours.rssGrowthPct, 1)} %${against(find('producer RSS growth after plateau (%)'))}) and heapUsed ${fmt(m.ours.before.heapUsedMiB, 1)} → ${fmt(m.ours.after.heapUsedMiB, 1)} MiB. ` +
      `Raw kafkajs sending the same events in its own process (warm-up ${fmt(m.raw.warmup)}, RSS ${fmt(m.raw.before.rssMiB, 1)} → ${fmt(m.raw.after.rssMiB, 1)} MiB) peaked at ${fmt(m.raw.peakRssMiB, 1)} MiB against our ${fmt(m.ours.peakRssMiB, 1)}: ${fmt(m.peakRatio)}×${against(find('peak RSS ours/raw'))}.`,
    '',
  );
  return out.join('\n');
};
