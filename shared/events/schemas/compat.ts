import type { CompatibilityMode } from '../catalog.ts';
import type { JsonSchema } from './json-schema.ts';

/**
 * The compatibility check between two revisions of one topic's released JSON Schema (docs/schemas.md defines
 * every rule). A schema is read as the set of values consumers accept; the values producers write are those
 * values with no undeclared property (the producer layer publishes strictly). A change breaks
 * - BACKWARD when a value valid under the old schema is refused by the new one: today's consumers cannot read
 *   yesterday's events (still on the topic, in the dead-letter tiers, replayed);
 * - FORWARD when a value valid under the new schema is refused by the old one: consumers not yet redeployed
 *   cannot read today's events.
 * Keywords that do not constrain values (title, description, $id, $schema, default, examples, x-*) are ignored.
 */
export type Direction = 'backward' | 'forward';

export type Rule =
  | 'optional-field-added'
  | 'required-field-added'
  | 'optional-field-removed'
  | 'required-field-removed'
  | 'field-made-required'
  | 'field-made-optional'
  | 'object-closed'
  | 'object-opened'
  | 'type-widened'
  | 'type-narrowed'
  | 'type-changed'
  | 'enum-value-added'
  | 'enum-value-removed'
  | 'enum-introduced'
  | 'enum-dropped'
  | 'format-added'
  | 'format-removed'
  | 'format-changed'
  | 'pattern-added'
  | 'pattern-removed'
  | 'pattern-changed'
  | 'lower-bound-raised'
  | 'lower-bound-lowered'
  | 'upper-bound-lowered'
  | 'upper-bound-raised'
  | 'alternative-added'
  | 'alternative-removed'
  | 'constraint-changed';

export interface Change {
  /** Field path in the event value: `medications[].dosage`; empty for the value itself. */
  path: string;
  rule: Rule;
  /** The directions this change breaks (empty: compatible both ways). */
  breaks: Direction[];
  /** What changed, in schema terms (keyword and values; schemas hold no event data). */
  detail: string;
}

const BOTH: Direction[] = ['backward', 'forward'];
const NARROWS: Direction[] = ['backward'];
const WIDENS: Direction[] = ['forward'];

/** What to do instead, per rule: shown with each breaking change. */
export const INSTEAD: Record<Rule, string> = {
  'optional-field-added': 'nothing else: an optional field may be added',
  'required-field-added': 'add it as optional (`.optional()`): events already written lack it',
  'optional-field-removed': 'nothing else: an optional field may be removed',
  'required-field-removed': 'keep sending it (make it optional first, in a FORWARD-compatible step)',
  'field-made-required': 'keep it optional and check for it where it is needed',
  'field-made-optional': 'keep it required until no consumer relies on it',
  'object-closed': 'keep the object open (no `.strict()`)',
  'object-opened': 'keep the object strict',
  'type-widened': 'add a new optional field with the wider type',
  'type-narrowed': 'keep the type and check the narrower one in the producer',
  'type-changed': 'add a new optional field with the new type',
  'enum-value-added': 'map the new case to an existing value until consumers are redeployed',
  'enum-value-removed': 'keep the value accepted (producers may stop sending it)',
  'enum-introduced': 'check the value in the producer',
  'enum-dropped': 'keep the list of values',
  'format-added': 'add a new optional field with the format',
  'format-removed': 'keep the format',
  'format-changed': 'add a new optional field with the new format',
  'pattern-added': 'add a new optional field with the pattern',
  'pattern-removed': 'keep the pattern',
  'pattern-changed': 'add a new optional field with the new pattern',
  'lower-bound-raised': 'keep the bound and check the stricter one in the producer',
  'lower-bound-lowered': 'keep the bound until consumers are redeployed',
  'upper-bound-lowered': 'keep the bound and check the stricter one in the producer',
  'upper-bound-raised': 'keep the bound until consumers are redeployed',
  'alternative-added': 'map the new alternative to an accepted one until consumers are redeployed',
  'alternative-removed': 'keep the alternative accepted (producers may stop sending it)',
  'constraint-changed': 'keep the constraint',
};

const IGNORED = new Set(['title', 'description', '$id', '$schema', 'default', 'examples', '$comment']);
const LOWER = ['minLength', 'minItems', 'minProperties', 'minimum', 'exclusiveMinimum'];
const UPPER = ['maxLength', 'maxItems', 'maxProperties', 'maximum', 'exclusiveMaximum'];
const HANDLED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'format',
  'pattern',
  'anyOf',
  ...LOWER,
  ...UPPER,
]);

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );

const ALL_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

/** The JSON types a schema allows; `number` includes `integer`. */
const typesOf = (schema: JsonSchema): Set<string> => {
  const declared = schema.type === undefined ? ALL_TYPES : ([] as string[]).concat(schema.type as string);
  const types = new Set(declared);
  if (types.has('number')) types.add('integer');
  return types;
};

const subset = <T>(a: Set<T>, b: Set<T>): boolean => [...a].every((x) => b.has(x));

/** The values an `enum` or `const` limits the schema to; undefined when it has neither. */
const valuesOf = (schema: JsonSchema): Set<string> | undefined => {
  if (schema.const !== undefined) return new Set([canonical(schema.const)]);
  if (Array.isArray(schema.enum)) return new Set(schema.enum.map(canonical));
  return undefined;
};

const join = (path: string, field: string): string => (path ? `${path}.${field}` : field);
const isClosed = (schema: JsonSchema): boolean => schema.additionalProperties === false;
const asSchema = (value: unknown): JsonSchema =>
  value && typeof value === 'object' ? (value as JsonSchema) : value === false ? { not: {} } : {};

/** Every change from `before` to `after`, compatible ones included, in path order. */
export const diffSchemas = (before: JsonSchema, after: JsonSchema, path = ''): Change[] => {
  const changes: Change[] = [];
  const add = (rule: Rule, breaks: Direction[], detail: string, at = path) =>
    changes.push({ path: at, rule, breaks, detail });

  // Types
  const oldTypes = typesOf(before);
  const newTypes = typesOf(after);
  const describe = (s: JsonSchema) => String(s.type ?? 'any');
  if (!(subset(oldTypes, newTypes) && subset(newTypes, oldTypes))) {
    if (subset(oldTypes, newTypes)) add('type-widened', WIDENS, `${describe(before)} → ${describe(after)}`);
    else if (subset(newTypes, oldTypes))
      add('type-narrowed', NARROWS, `${describe(before)} → ${describe(after)}`);
    else add('type-changed', BOTH, `${describe(before)} → ${describe(after)}`);
  }

  // Listed values (enum / const)
  const oldValues = valuesOf(before);
  const newValues = valuesOf(after);
  if (oldValues && newValues) {
    const added = [...newValues].filter((v) => !oldValues.has(v));
    const removed = [...oldValues].filter((v) => !newValues.has(v));
    if (added.length > 0) add('enum-value-added', WIDENS, `added ${added.join(', ')}`);
    if (removed.length > 0) add('enum-value-removed', NARROWS, `removed ${removed.join(', ')}`);
  } else if (newValues) add('enum-introduced', NARROWS, `limited to ${[...newValues].join(', ')}`);
  else if (oldValues) add('enum-dropped', WIDENS, `no longer limited to ${[...oldValues].join(', ')}`);

  // Format and pattern
  for (const keyword of ['format', 'pattern'] as const) {
    const was = before[keyword];
    const is = after[keyword];
    if (was === is) continue;
    const detail = `${keyword} ${was === undefined ? '(none)' : JSON.stringify(was)} → ${is === undefined ? '(none)' : JSON.stringify(is)}`;
    if (was === undefined) add(`${keyword}-added`, NARROWS, detail);
    else if (is === undefined) add(`${keyword}-removed`, WIDENS, detail);
    else add(`${keyword}-changed`, BOTH, detail);
  }

  // Bounds: a missing lower bound is -∞, a missing upper bound +∞
  for (const keyword of LOWER) {
    const was = before[keyword] as number | undefined;
    const is = after[keyword] as number | undefined;
    if (was === is) continue;
    const detail = `${keyword} ${was ?? '(none)'} → ${is ?? '(none)'}`;
    if (was === undefined || (is !== undefined && is > was)) add('lower-bound-raised', NARROWS, detail);
    else add('lower-bound-lowered', WIDENS, detail);
  }
  for (const keyword of UPPER) {
    const was = before[keyword] as number | undefined;
    const is = after[keyword] as number | undefined;
    if (was === is) continue;
    const detail = `${keyword} ${was ?? '(none)'} → ${is ?? '(none)'}`;
    if (was === undefined || (is !== undefined && is < was)) add('upper-bound-lowered', NARROWS, detail);
    else add('upper-bound-raised', WIDENS, detail);
  }

  // Alternatives (anyOf), compared as a set of branches
  if (before.anyOf !== undefined || after.anyOf !== undefined) {
    const branches = (s: JsonSchema) =>
      new Set(((s.anyOf as unknown[] | undefined) ?? [{ ...s, anyOf: undefined }]).map(canonical));
    const was = branches(before);
    const is = branches(after);
    const added = [...is].filter((b) => !was.has(b)).length;
    const removed = [...was].filter((b) => !is.has(b)).length;
    if (added > 0) add('alternative-added', WIDENS, `${added} alternative(s) added`);
    if (removed > 0) add('alternative-removed', NARROWS, `${removed} alternative(s) removed`);
  }

  // Objects: fields and content model
  if (before.properties !== undefined || after.properties !== undefined) {
    const oldProps = (before.properties ?? {}) as Record<string, unknown>;
    const newProps = (after.properties ?? {}) as Record<string, unknown>;
    const oldRequired = new Set((before.required as string[] | undefined) ?? []);
    const newRequired = new Set((after.required as string[] | undefined) ?? []);
    if (!isClosed(before) && isClosed(after))
      add('object-closed', NARROWS, 'additionalProperties: false added');
    if (isClosed(before) && !isClosed(after))
      add('object-opened', WIDENS, 'additionalProperties: false removed');
    const fields = [...new Set([...Object.keys(oldProps), ...Object.keys(newProps)])].sort();
    for (const field of fields) {
      const at = join(path, field);
      const inOld = Object.hasOwn(oldProps, field);
      const inNew = Object.hasOwn(newProps, field);
      if (!inOld) {
        // Old consumers of a closed object refuse a value carrying the field.
        const forward: Direction[] = isClosed(before) ? ['forward'] : [];
        if (newRequired.has(field))
          add('required-field-added', ['backward', ...forward], 'new required field', at);
        else add('optional-field-added', forward, 'new optional field', at);
      } else if (!inNew) {
        // New consumers of a closed object refuse old values carrying the field.
        const backward: Direction[] = isClosed(after) ? ['backward'] : [];
        if (oldRequired.has(field))
          add('required-field-removed', [...backward, 'forward'], 'required field removed', at);
        else add('optional-field-removed', backward, 'optional field removed', at);
      } else {
        if (!oldRequired.has(field) && newRequired.has(field))
          add('field-made-required', NARROWS, 'optional → required', at);
        if (oldRequired.has(field) && !newRequired.has(field))
          add('field-made-optional', WIDENS, 'required → optional', at);
        changes.push(...diffSchemas(asSchema(oldProps[field]), asSchema(newProps[field]), at));
      }
    }
  }

  // Arrays
  if (before.items !== undefined || after.items !== undefined) {
    changes.push(...diffSchemas(asSchema(before.items), asSchema(after.items), `${path}[]`));
  }

  // Anything else that constrains values: any change counts both ways
  const others = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const keyword of [...others].sort()) {
    if (HANDLED.has(keyword) || IGNORED.has(keyword) || keyword.startsWith('x-')) continue;
    if (canonical(before[keyword]) !== canonical(after[keyword]))
      add('constraint-changed', BOTH, `${keyword} changed`);
  }
  return changes;
};

/** The directions a mode requires; DISABLED refuses every change, NONE none. */
const REQUIRED: Record<CompatibilityMode, Direction[] | 'any-change'> = {
  NONE: [],
  DISABLED: 'any-change',
  BACKWARD: ['backward'],
  BACKWARD_ALL: ['backward'],
  FORWARD: ['forward'],
  FORWARD_ALL: ['forward'],
  FULL: BOTH,
  FULL_ALL: BOTH,
};

/** The changes from `released` to `current` that `mode` does not allow. */
export const breakingChanges = (
  released: JsonSchema,
  current: JsonSchema,
  mode: CompatibilityMode,
): Change[] => {
  const required = REQUIRED[mode];
  const changes = diffSchemas(released, current);
  if (required === 'any-change') return changes;
  return changes.filter((c) => c.breaks.some((d) => required.includes(d)));
};

const CONSEQUENCE: Record<Direction, string> = {
  backward: "BACKWARD: today's consumers would refuse events already written",
  forward: 'FORWARD: consumers not yet redeployed would refuse the new events',
};

/** One line per breaking change: topic and version, field path, rule, why it breaks, what to do instead. */
export const describeBreak = (topic: string, schemaVersion: number, mode: CompatibilityMode, c: Change) => {
  const why =
    c.breaks.length > 0 ? c.breaks.map((d) => CONSEQUENCE[d]).join('; ') : `${mode} allows no change at all`;
  const field = c.path === '' ? '(the event)' : `"${c.path}"`;
  return `${topic} v${schemaVersion}: field ${field}: ${c.rule} (${c.detail}) breaks ${mode} compatibility — ${why}. Instead: ${INSTEAD[c.rule]}, or release schemaVersion ${schemaVersion + 1} of the topic (docs/schemas.md).`;
};
