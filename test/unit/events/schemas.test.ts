import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { generateAsyncApi } from '../../../shared/events/asyncapi/generate.ts';
import { acceptedVersions, catalogTopics, encodeEvent, type Topic } from '../../../shared/events/index.ts';
import { checkCatalog } from '../../../shared/events/schemas/guard.ts';
import { jsonSchemaOf, releasedFiles, schemaPath } from '../../../shared/events/schemas/json-schema.ts';
import { filesOnDisk, readReleased } from '../../../shared/events/schemas/write.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

describe('released JSON Schemas (schemas/<topic>/v<N>.json)', () => {
  it('the catalog is compatible with the released schemas under each topic’s declared mode', () => {
    // Act
    const problems = checkCatalog(readReleased);
    // Assess
    expect(problems, problems.join('\n')).toEqual([]);
    console.log(
      `compatibility guard: ${catalogTopics().length} topics checked against their released schemas`,
    );
  });

  it('match the committed files, one per accepted version of each topic (run `npm run schemas` after changing the catalog)', () => {
    // Act
    const expected = releasedFiles();
    // Assess
    expect(filesOnDisk()).toEqual([...expected.keys()].sort());
    for (const [path, text] of expected) expect(readReleased(path), path).toBe(text);
    expect(expected.size).toBeGreaterThanOrEqual(catalogTopics().length);
  });

  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);

  it.each(catalogTopics())(
    '%s: the released schema accepts what the producer writes and refuses what decodeEvent refuses',
    (topic) => {
      // Prepare
      const schema = jsonSchemaOf(topic, acceptedVersions(topic).at(-1) ?? 1);
      const validate = ajv.compile(schema);
      const { value } = encodeEvent(topic, samplePayloads[topic], sampleMeta());
      const event = JSON.parse(value) as Record<string, unknown>;
      expect(validate({ ...event, schemaVersion: 99 })).toBe(false);
      expect(validate({ ...event, eventType: 'other.topic.name' })).toBe(false);
    },
  );

  it('the AsyncAPI document points each message at its released schema files', () => {
    type Message = { name: string; 'x-released-schemas': string[] };
    const messages = Object.values(
      (generateAsyncApi().components as { messages: Record<string, Message> }).messages,
    ).filter((m) => m.name !== 'esante.dlq');
    expect(messages).toHaveLength(catalogTopics().length);
    for (const message of messages) {
      const topic = message.name as Topic;
      expect(message['x-released-schemas']).toEqual(acceptedVersions(topic).map((v) => schemaPath(topic, v)));
    }
  });
});
