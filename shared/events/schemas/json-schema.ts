import * as z from 'zod';
import {
  acceptedVersions,
  catalogTopics,
  definitionOf,
  type EventDefinition,
  type Topic,
  versionSchema,
} from '../catalog.ts';
import { envelopeSchema } from '../envelope.ts';

/**
 * The released contract of one topic at one `schemaVersion`: the whole value as consumers read it (envelope
 * and payload, flat as on the wire), as JSON Schema draft-07 (the newest draft AWS Glue validates) generated
 * from the catalog's zod schema. It is the reader's view: properties it does not declare are ignored, as
 * decodeEvent does (no `additionalProperties: false`, except on `actor`, which is strict). `eventType` and
 * `schemaVersion` are pinned; PHI fields are marked `x-phi: true`. Keys are sorted so a committed file only
 * changes where the schema does.
 */
export type JsonSchema = { [keyword: string]: unknown };

export const SCHEMAS_DIR = 'schemas';

/** Repository-relative path of a released schema file. */
export const schemaPath = (topic: string, schemaVersion: number): string =>
  `${SCHEMAS_DIR}/${topic}/v${schemaVersion}.json`;

export const jsonSchemaOf = (topic: Topic, schemaVersion: number): JsonSchema =>
  jsonSchemaFor(topic, definitionOf(topic), schemaVersion);

/** The same for any definition (the guard's tests pass mutated catalog entries). */
export const jsonSchemaFor = (
  topic: string,
  definition: EventDefinition,
  schemaVersion: number,
): JsonSchema => {
  const payload = versionSchema(definition, schemaVersion);
  if (!payload) throw new Error(`${topic} does not accept schemaVersion ${schemaVersion}`);
  const schema = z.toJSONSchema(payload.extend(envelopeSchema.shape), {
    target: 'draft-7',
    io: 'input',
  }) as JsonSchema & { properties: Record<string, JsonSchema> };
  schema.$id = `urn:esante:event:${topic}:v${schemaVersion}`;
  schema.title = topic;
  schema.description = definition.description;
  schema.properties.eventType = { type: 'string', const: topic };
  schema.properties.schemaVersion = { type: 'integer', const: schemaVersion };
  // PHI fields are the newest version's; an earlier version's fields keep the mark where they still exist.
  for (const field of definition.phi) {
    const property = schema.properties[field];
    if (property) property['x-phi'] = true;
  }
  return sortKeys(schema) as JsonSchema;
};

/** Object keys in code-point order, recursively; arrays keep their order (`required`, `enum` are ordered). */
export const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
};

export const renderSchema = (schema: JsonSchema): string => `${JSON.stringify(schema, null, 2)}\n`;

/** Every released file the catalog implies: each accepted version of each topic, path → content. */
export const releasedFiles = (): Map<string, string> => {
  const files = new Map<string, string>();
  for (const topic of catalogTopics()) {
    for (const version of acceptedVersions(topic)) {
      files.set(schemaPath(topic, version), renderSchema(jsonSchemaOf(topic, version)));
    }
  }
  return files;
};
