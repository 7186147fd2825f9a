import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';

/** What one fault scenario measured: its figures in order, the invariants it checked, and notes. */
export interface ScenarioResult {
  name: string;
  figures: [label: string, value: string | number][];
  checks: { what: string; ok: boolean; detail?: string }[];
  notes: string[];
  /** Optional table (e.g. the corpus, case by case): header row first. */
  table?: string[][];
}

export const passed = (result: ScenarioResult): boolean => result.checks.every((c) => c.ok);

export const seconds = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`;

export const check = (what: string, ok: boolean, detail?: string) => ({
  what,
  ok,
  ...(detail ? { detail } : {}),
});

/** The scenario as console lines. */
export const printResult = (result: ScenarioResult, print: (line: string) => void): void => {
  print(`\n== ${result.name}: ${passed(result) ? 'PASS' : 'FAIL'}`);
  const width = Math.max(...result.figures.map(([label]) => label.length));
  for (const [label, value] of result.figures) print(`  ${label.padEnd(width)}  ${value}`);
  for (const c of result.checks)
    print(`  [${c.ok ? 'ok' : 'FAIL'}] ${c.what}${c.detail ? ` (${c.detail})` : ''}`);
  if (result.table) for (const row of result.table) print(`  | ${row.join(' | ')}`);
  for (const note of result.notes) print(`  note: ${note}`);
};

const cell = (value: string | number) => String(value).replace(/\|/g, '\\|');

const markdownTable = (rows: string[][]): string[] => {
  const [head, ...body] = rows;
  if (!head) return [];
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
};

type RunInfo = { startedAt: Date; durationMs: number; phi: { lines: number; leaks: string[] } };

const machine = () =>
  `${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

const summaryRow = (r: ScenarioResult) => [
  r.name,
  passed(r) ? 'pass' : '**FAIL**',
  `${r.checks.filter((c) => c.ok).length}/${r.checks.length}`,
];

/** One scenario's section: `## name`, its figures, checks, table and notes (and a preamble, if any). */
const scenarioSection = (r: ScenarioResult, preamble: string[] = []): string[] => {
  const lines = [`## ${r.name}`, '', ...preamble];
  lines.push(...markdownTable([['Figure', 'Value'], ...r.figures.map(([l, v]) => [l, String(v)])]));
  lines.push(
    '',
    ...r.checks.map((c) => `- [${c.ok ? 'x' : ' '}] ${c.what}${c.detail ? ` (${c.detail})` : ''}`),
  );
  if (r.table) lines.push('', ...markdownTable(r.table));
  if (r.notes.length) lines.push('', ...r.notes.map((n) => `- ${n}`));
  lines.push('');
  return lines;
};

/**
 * docs/reliability.md after a run of some scenarios only (`--only`): each one's section and summary row are
 * replaced, saying when and where it was re-run; every other section stays as the last full run wrote it.
 */
export const mergeReliability = (existing: string, results: ScenarioResult[], run: RunInfo): string => {
  let text = existing;
  for (const r of results) {
    const preamble = [
      `Re-run alone: ${run.startedAt.toISOString()}, ${seconds(run.durationMs)}, on ${machine()}; ` +
        `${run.phi.lines} log lines scanned, ${run.phi.leaks.length} with a PHI value. The other sections ` +
        'are from the run named at the top.',
      '',
    ];
    const section = scenarioSection(r, preamble).join('\n');
    const start = text.indexOf(`## ${r.name}\n`);
    if (start < 0) {
      const phi = text.indexOf('## No PHI in logs');
      text = phi < 0 ? `${text}\n${section}` : `${text.slice(0, phi)}${section}\n${text.slice(phi)}`;
    } else {
      const next = text.indexOf('\n## ', start + 3);
      text = `${text.slice(0, start)}${section}${next < 0 ? '' : text.slice(next)}`;
    }
    const row = markdownTable([['Scenario', 'Result', 'Checks'], summaryRow(r)])[2] as string;
    text = text.replace(new RegExp(`^\\| ${r.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\|.*$`, 'm'), row);
  }
  return text;
};

/** docs/reliability.md: how the figures were produced, then one section per scenario. */
export const reliabilityMarkdown = (results: ScenarioResult[], run: RunInfo): string => {
  const lines = [
    '# Reliability: fault-injection figures',
    '',
    'Written by `npm run test:faults` (test/faults/run.ts); do not edit by hand — rerun it.',
    `Run: ${run.startedAt.toISOString()}, ${seconds(run.durationMs)} in all, on ${machine()}.`,
    '',
    'Every scenario runs against the real local stack: a local Apache Kafka broker (KRaft), dynalite, the',
    'local SES server and ElasticMQ, and the ESM emulator with the real handlers of infra/consumers.ts in a',
    'separate process (test/faults/esm-child.ts) that can be SIGKILLed. "Lost" counts events whose effect',
    '(an audit entry, an e-mail) never appeared; "duplicates" counts effects that appeared more than once.',
    'Short versions of the same scenarios, with fewer events and one fault each, run inside `npm test`',
    '(test/integration/faults/) and assert the same invariants, not the timings.',
    '',
    '## Summary',
    '',
    ...markdownTable([
      ['Scenario', 'Result', 'Checks'],
      ...results.map(summaryRow),
      [
        'No PHI in logs',
        run.phi.leaks.length === 0 ? 'pass' : '**FAIL**',
        `${run.phi.lines} log lines scanned, ${run.phi.leaks.length} with a PHI value`,
      ],
    ]),
    '',
  ];
  for (const r of results) lines.push(...scenarioSection(r));
  lines.push(
    '## No PHI in logs',
    '',
    'Every PHI field of every event the runs publish holds a value containing the marker `PHI-MARKER-7f3a`',
    '(test/fixtures/events.ts) or a listed literal (test/faults/log-tap.ts); every log line of the runs — the',
    "ESM child processes' stdout and stderr at DEBUG level, and the runner's own output — is searched for them.",
    '',
    `- Log lines scanned: ${run.phi.lines}`,
    `- Lines containing a PHI value: ${run.phi.leaks.length}`,
    ...run.phi.leaks.slice(0, 10).map((l) => `  - \`${l.slice(0, 200).replace(/`/g, "'")}\``),
    '',
  );
  return lines.join('\n');
};

export const writeReliability = (path: string, markdown: string) => writeFile(path, markdown);
