import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxConcurrency, partitionsRead } from '../../../infra/capacity.ts';
import { CONSUMERS } from '../../../infra/consumers.ts';
import { REPO_ROOT } from '../../../infra/local/kafka/jvm.ts';
import { HOURS_PER_MONTH, monthlyCost, PRICES, renderCostTables } from '../../../infra/ops/cost.ts';
import { STAGES } from '../../../infra/stacks/stage.ts';
import { topicSpecs } from '../../../shared/events/index.ts';

const line = (lines: ReturnType<typeof monthlyCost>, name: string) =>
  lines.find((l) => l.line.startsWith(name))?.monthly ?? Number.NaN;

describe('cost model (docs/cost.md)', () => {
  it('matches the tables committed in docs/cost.md (run `npm run cost` after changing a setting)', () => {
    // Prepare
    const doc = readFileSync(join(REPO_ROOT, 'docs/cost.md'), 'utf8');
    const committed = /<!-- cost:begin -->\n([\s\S]*)<!-- cost:end -->/.exec(doc)?.[1];
    // Assess
    expect(committed).toBe(renderCostTables());
  });

  it('bills one EPU per mapping without poller groups and packs 10 pollers per EPU with them', () => {
    // Prepare
    const mappings = CONSUMERS.reduce((sum, c) => sum + c.topics.length, 0);
    // Act
    const none = line(monthlyCost(STAGES.dev, 10, { pollerGroups: 'none' }), 'ESM');
    const perConsumer = line(monthlyCost(STAGES.dev, 10, { pollerGroups: 'per-consumer' }), 'ESM');
    const one = line(monthlyCost(STAGES.dev, 10, { pollerGroups: 'one' }), 'ESM');
    // Assess
    expect(none).toBeCloseTo(mappings * PRICES.epuHour * HOURS_PER_MONTH, 6);
    expect(one).toBeCloseTo(Math.ceil(mappings / PRICES.pollersPerEpu) * PRICES.epuHour * HOURS_PER_MONTH, 6);
    expect(none).toBeGreaterThan(perConsumer);
    expect(perConsumer).toBeGreaterThanOrEqual(one);
  });

  it('follows the stage settings and the event rate', () => {
    // Act
    const three = monthlyCost(STAGES.prod, 100);
    const six = monthlyCost({ ...STAGES.prod, brokerNodes: 6 }, 100);
    // Assess
    expect(line(six, 'MSK brokers')).toBeCloseTo(2 * line(three, 'MSK brokers'), 6);
    expect(line(monthlyCost(STAGES.prod, 1_000), 'DynamoDB on-demand')).toBeCloseTo(
      10 * line(three, 'DynamoDB on-demand'),
      6,
    );
    expect(monthlyCost(STAGES.dev, 1_000).find((l) => l.line === 'MSK broker storage')?.note).toMatch(
      /above brokerMaxVolumeGiB 500/,
    );
  });

  it('counts the partitions of every topic a consumer reads (its useful concurrency)', () => {
    // Prepare
    const partitions = new Map(topicSpecs().map((s) => [s.topic, s.partitions]));
    // Assess
    for (const consumer of CONSUMERS)
      expect(partitionsRead(consumer), consumer.name).toBe(
        consumer.topics.reduce((sum, t) => sum + (partitions.get(t) ?? Number.NaN), 0),
      );
    expect(partitionsRead({ topics: [] })).toBe(0);
    // The pollers' ceiling (5 invocations each) caps it when it is the lower of the two.
    const audit = CONSUMERS[0];
    expect(maxConcurrency({ ...audit, pollers: { minimum: 1, maximum: 200 } })).toBe(partitionsRead(audit));
    const drafts = CONSUMERS[2]; // one topic of 6 partitions
    expect(partitionsRead(drafts)).toBe(6);
    expect(maxConcurrency({ ...drafts, pollers: { minimum: 1, maximum: 1 } })).toBe(5);
  });
});
