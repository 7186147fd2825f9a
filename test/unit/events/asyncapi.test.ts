import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { generateAsyncApi } from '../../../shared/events/asyncapi/generate.ts';
import { ASYNCAPI_PATH, renderAsyncApi } from '../../../shared/events/asyncapi/write.ts';
import { catalogTopics, DLQ_TOPIC, topicSpecs } from '../../../shared/events/index.ts';

// The parser validates the whole document (35 channels, their schemas and the released-schema references):
// about a second alone, past vitest's 5 s default on a loaded machine. A bound on the work, not a timing check.
const PARSE_TIMEOUT_MS = 60_000;

describe('AsyncAPI document', { timeout: PARSE_TIMEOUT_MS }, () => {
  const rendered = renderAsyncApi();

  it('is valid AsyncAPI 3 according to @asyncapi/parser', async () => {
    const { document, diagnostics } = await new Parser().parse(rendered);
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((e) => `${e.path.join('.')}: ${e.message}`)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    const addresses = document
      ?.channels()
      .all()
      .map((c) => c.address())
      .sort();
    expect(addresses).toEqual([...catalogTopics(), DLQ_TOPIC].sort());
  });

  it('marks the catalog PHI fields', async () => {
    const { document } = await new Parser().parse(rendered);
    const message = document
      ?.messages()
      .all()
      .find((m) => m.name() === 'medical.consultation.created');
    const diagnosis = message?.payload()?.properties()?.diagnosis;
    expect(diagnosis?.extensions().get('x-phi')?.value()).toBe(true);
  });

  it('binds every channel to its topic specification: partitions, replicas and topic configs', () => {
    // Act
    type Channel = { address: string; bindings: { kafka: { topicConfiguration: Record<string, number> } } };
    const channels = Object.values(generateAsyncApi().channels as Record<string, Channel>);
    // Assess
    for (const spec of topicSpecs()) {
      const binding = channels.find((c) => c.address === spec.topic)?.bindings.kafka;
      expect(binding, spec.topic).toMatchObject({
        partitions: spec.partitions,
        replicas: spec.replicationFactor,
      });
      expect(binding?.topicConfiguration, spec.topic).toEqual(spec.configs);
    }
    const dlq = channels.find((c) => c.address === DLQ_TOPIC)?.bindings.kafka;
    expect(dlq?.topicConfiguration['max.message.bytes']).toBe(8_388_608);
  });

  it('matches the committed docs/asyncapi.yaml (run `npm run asyncapi` after changing the catalog)', () => {
    expect(readFileSync(ASYNCAPI_PATH, 'utf8')).toBe(rendered);
  });
});
