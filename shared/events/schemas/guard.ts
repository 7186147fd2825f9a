import { catalogTopics, definitionOf, type EventDefinition, type Topic } from '../catalog.ts';
import { breakingChanges, describeBreak } from './compat.ts';
import { type JsonSchema, jsonSchemaFor, schemaPath } from './json-schema.ts';

/**
 * The compatibility guard: the catalog against the released files (schemas/<topic>/v<N>.json), topic by
 * topic. Returns one message per problem (empty when the catalog may be released):
 * - the version producers publish is compared with its released file under the topic's declared mode;
 * - an earlier version consumers still accept is frozen: any change to it is refused;
 * - a new version N+1 needs N still accepted (events of N are still on the topic), and N released.
 * `read` returns a released file's text, or undefined when there is none.
 */
export const checkCatalog = (
  read: (path: string) => string | undefined,
  topics = catalogTopics(),
): string[] => topics.flatMap((topic) => checkTopic(topic, read));

export const checkTopic = (topic: Topic, read: (path: string) => string | undefined): string[] =>
  checkDefinition(topic, definitionOf(topic), read);

/** The same for any definition: the mutation corpus (test/unit/events/compat.test.ts) passes mutated entries. */
export const checkDefinition = (
  topic: string,
  definition: EventDefinition,
  read: (path: string) => string | undefined,
): string[] => {
  const problems: string[] = [];
  const released = (version: number): JsonSchema | undefined => {
    const text = read(schemaPath(topic, version));
    return text === undefined ? undefined : (JSON.parse(text) as JsonSchema);
  };
  const newest = definition.schemaVersion;
  const previous = released(newest);
  if (previous) {
    for (const change of breakingChanges(
      previous,
      jsonSchemaFor(topic, definition, newest),
      definition.compatibility,
    )) {
      problems.push(describeBreak(topic, newest, definition.compatibility, change));
    }
  } else if (newest > 1) {
    if (!definition.earlier.some((v) => v.schemaVersion === newest - 1)) {
      problems.push(
        `${topic} v${newest}: version ${newest - 1} is no longer accepted, but its events may still be on the topic. Instead: keep v${newest - 1} in the topic's \`earlier\` versions until it is retired (docs/schemas.md).`,
      );
    } else if (!released(newest - 1)) {
      problems.push(
        `${topic} v${newest}: v${newest - 1} was never released (${schemaPath(topic, newest - 1)} is missing). Instead: release one version at a time.`,
      );
    }
  }
  for (const { schemaVersion } of definition.earlier) {
    const file = released(schemaVersion);
    if (!file) {
      problems.push(
        `${topic} v${schemaVersion}: an earlier version must have been released (${schemaPath(topic, schemaVersion)} is missing).`,
      );
      continue;
    }
    for (const change of breakingChanges(file, jsonSchemaFor(topic, definition, schemaVersion), 'DISABLED')) {
      problems.push(
        `${topic} v${schemaVersion}: field "${change.path}": ${change.rule} (${change.detail}) changes a superseded version, which is frozen: events of it are already written. Instead: change v${newest} only.`,
      );
    }
  }
  return problems;
};
