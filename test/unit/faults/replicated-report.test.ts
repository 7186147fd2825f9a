import { describe, expect, it } from 'vitest';
import {
  parseSubsections,
  replicatedMarkdown,
  replicatedSection,
  scenarioMarkdown,
} from '../../faults/replicated-report.ts';
import type { ScenarioResult } from '../../faults/report.ts';

/** docs/reliability.md's three-node section: a run of one scenario rewrites its subsection, keeps the others. */
describe('three-node section of docs/reliability.md', () => {
  const result = (name: string, ok: boolean): ScenarioResult => ({
    name,
    figures: [['Acknowledged (ours)', 7]],
    checks: [{ what: '0 lost', ok }],
    notes: [],
    table: [
      ['', 'Ours', 'Kafka'],
      ['Lost', ok ? '0' : '3', '0'],
    ],
  });
  const run = (command: string) => ({ startedAt: new Date('2026-11-30T10:00:00Z'), command });
  const order = ['A kills', 'B pause'];

  it('replaces the subsection of the scenario that ran and keeps the other one, in order', () => {
    // Prepare: a document with both scenarios, B failing.
    const first = new Map([
      ['B pause', scenarioMarkdown(result('B pause', false), run('old-b'))],
      ['A kills', scenarioMarkdown(result('A kills', true), run('old-a'))],
    ]);
    const doc = `# Reliability\n\nother sections\n\n${replicatedMarkdown(first, order)}\n`;
    // Act: B runs again and passes.
    const subsections = parseSubsections(replicatedSection(doc));
    subsections.set('B pause', scenarioMarkdown(result('B pause', true), run('new-b')));
    const next = replicatedMarkdown(subsections, order);
    // Assess
    expect([...parseSubsections(next).keys()]).toEqual(['A kills', 'B pause']);
    expect(next).toContain('### A kills: pass');
    expect(next).toContain('`old-a`');
    expect(next).toContain('### B pause: pass');
    expect(next).toContain('`new-b`');
    expect(next).not.toContain('old-b');
    expect(next).not.toContain('**FAIL**');
  });

  it('finds no section in a document without its markers', () => {
    expect(replicatedSection('# Reliability\n\n## Broker kills\n')).toBe('');
    expect(parseSubsections('').size).toBe(0);
  });
});
