import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type CompatibilityMode,
  definitionOf,
  type EventDefinition,
  earlierVersion,
  TOPICS,
  type Topic,
} from '../../../shared/events/index.ts';
import { breakingChanges, diffSchemas, type Rule } from '../../../shared/events/schemas/compat.ts';
import { checkDefinition } from '../../../shared/events/schemas/guard.ts';
import { jsonSchemaFor, renderSchema, schemaPath } from '../../../shared/events/schemas/json-schema.ts';
import { samplePayloads } from '../../fixtures/events.ts';

type Shape = z.ZodObject;

/**
 * The mutation corpus: catalog entries changed the ways a team changes them, each with the rule the guard
 * must name, the field path, whether it is compatible BACKWARD (today's consumers read yesterday's events)
 * and FORWARD (yesterday's consumers read today's), and payloads proving each break on the real zod
 * readers: `oldOnly` is accepted by the released schema and refused by the mutated one, `newOnly` the reverse.
 */
interface Mutation {
  name: string;
  topic: Topic;
  mutate: (schema: Shape) => Shape;
  path: string;
  rule: Rule;
  backward: boolean;
  forward: boolean;
  oldOnly?: Record<string, unknown>;
  newOnly?: Record<string, unknown>;
}

const requested = samplePayloads[TOPICS.APPOINTMENT_REQUESTED];
const confirmed = samplePayloads[TOPICS.APPOINTMENT_CONFIRMED];
const cancelled = samplePayloads[TOPICS.APPOINTMENT_CANCELLED];
const document = samplePayloads[TOPICS.DOCUMENT_UPLOADED];
const prescription = samplePayloads[TOPICS.PRESCRIPTION_CREATED];
const referral = samplePayloads[TOPICS.REFERRAL_CREATED];
const completed = samplePayloads[TOPICS.APPOINTMENT_COMPLETED];
const { specialistId: _, ...referralWithoutSpecialist } = referral;
const { appointmentTime: __, ...confirmedWithoutTime } = confirmed;
const { doctorId: ___, ...confirmedWithoutDoctor } = confirmed;
const medication = (extra: object = {}) => ({ name: 'amlodipine', dosage: '5 mg', ...extra });
const item = z.object({ name: z.string().min(1).max(200), dosage: z.string().min(1).max(200) });

const CORPUS: Mutation[] = [
  {
    name: 'an optional field added',
    topic: TOPICS.APPOINTMENT_REQUESTED,
    mutate: (s) => s.extend({ notes: z.string().max(500).optional() }),
    path: 'notes',
    rule: 'optional-field-added',
    backward: true,
    forward: true,
  },
  {
    name: 'a required field added',
    topic: TOPICS.APPOINTMENT_REQUESTED,
    mutate: (s) => s.extend({ roomId: z.string().min(1) }),
    path: 'roomId',
    rule: 'required-field-added',
    backward: false,
    forward: true,
    oldOnly: requested,
  },
  {
    name: 'an optional field removed',
    topic: TOPICS.APPOINTMENT_REQUESTED,
    mutate: (s) => s.omit({ reason: true }),
    path: 'reason',
    rule: 'optional-field-removed',
    backward: true,
    forward: true,
  },
  {
    name: 'a required field removed',
    topic: TOPICS.APPOINTMENT_CONFIRMED,
    mutate: (s) => s.omit({ appointmentTime: true }),
    path: 'appointmentTime',
    rule: 'required-field-removed',
    backward: true,
    forward: false,
    newOnly: confirmedWithoutTime,
  },
  {
    name: 'an optional field made required',
    topic: TOPICS.REFERRAL_CREATED,
    mutate: (s) => s.extend({ specialistId: z.string().min(1).max(128) }),
    path: 'specialistId',
    rule: 'field-made-required',
    backward: false,
    forward: true,
    oldOnly: referralWithoutSpecialist,
  },
  {
    name: 'a required field made optional',
    topic: TOPICS.APPOINTMENT_CONFIRMED,
    mutate: (s) => s.extend({ doctorId: z.string().min(1).max(128).optional() }),
    path: 'doctorId',
    rule: 'field-made-optional',
    backward: true,
    forward: false,
    newOnly: confirmedWithoutDoctor,
  },
  {
    name: 'a type changed (integer to string)',
    topic: TOPICS.DOCUMENT_UPLOADED,
    mutate: (s) => s.extend({ sizeBytes: z.string() }),
    path: 'sizeBytes',
    rule: 'type-changed',
    backward: false,
    forward: false,
    oldOnly: document,
    newOnly: { ...document, sizeBytes: '1234' },
  },
  {
    name: 'a type widened (integer to number)',
    topic: TOPICS.DOCUMENT_UPLOADED,
    mutate: (s) => s.extend({ sizeBytes: z.number().nonnegative() }),
    path: 'sizeBytes',
    rule: 'type-widened',
    backward: true,
    forward: false,
    newOnly: { ...document, sizeBytes: 12.5 },
  },
  {
    name: 'an enum value added',
    topic: TOPICS.APPOINTMENT_CANCELLED,
    mutate: (s) => s.extend({ cancelledBy: z.enum(['patient', 'doctor', 'system', 'admin']) }),
    path: 'cancelledBy',
    rule: 'enum-value-added',
    backward: true,
    forward: false,
    newOnly: { ...cancelled, cancelledBy: 'admin' },
  },
  {
    name: 'an enum value removed',
    topic: TOPICS.APPOINTMENT_CANCELLED,
    mutate: (s) => s.extend({ cancelledBy: z.enum(['patient', 'doctor']) }),
    path: 'cancelledBy',
    rule: 'enum-value-removed',
    backward: false,
    forward: true,
    oldOnly: { ...cancelled, cancelledBy: 'system' },
  },
  {
    name: 'a format added (id to UUID)',
    topic: TOPICS.MESSAGE_SENT,
    mutate: (s) => s.extend({ messageId: z.uuid().min(1).max(128) }),
    path: 'messageId',
    rule: 'format-added',
    backward: false,
    forward: true,
    oldOnly: samplePayloads[TOPICS.MESSAGE_SENT],
  },
  {
    name: 'a format removed (date-time to any string)',
    topic: TOPICS.APPOINTMENT_COMPLETED,
    mutate: (s) => s.extend({ completedAt: z.string().optional() }),
    path: 'completedAt',
    rule: 'format-removed',
    backward: true,
    forward: false,
    newOnly: { ...completed, completedAt: 'yesterday' },
  },
  {
    name: 'a pattern changed (HH:MM to H:MM AM/PM)',
    topic: TOPICS.APPOINTMENT_CONFIRMED,
    mutate: (s) => s.extend({ appointmentTime: z.string().regex(/^\d{1,2}:\d{2} (AM|PM)$/) }),
    path: 'appointmentTime',
    rule: 'pattern-changed',
    backward: false,
    forward: false,
    oldOnly: confirmed,
    newOnly: { ...confirmed, appointmentTime: '9:30 AM' },
  },
  {
    name: 'a maximum length lowered',
    topic: TOPICS.APPOINTMENT_REQUESTED,
    mutate: (s) => s.extend({ reason: z.string().max(500).optional() }),
    path: 'reason',
    rule: 'upper-bound-lowered',
    backward: false,
    forward: true,
    oldOnly: { ...requested, reason: 'x'.repeat(501) },
  },
  {
    name: 'a maximum length raised',
    topic: TOPICS.APPOINTMENT_REQUESTED,
    mutate: (s) => s.extend({ reason: z.string().max(5000).optional() }),
    path: 'reason',
    rule: 'upper-bound-raised',
    backward: true,
    forward: false,
    newOnly: { ...requested, reason: 'x'.repeat(2001) },
  },
  {
    name: 'a minimum item count raised',
    topic: TOPICS.PRESCRIPTION_CREATED,
    mutate: (s) => s.extend({ medications: z.array(item).min(2).max(50) }),
    path: 'medications',
    rule: 'lower-bound-raised',
    backward: false,
    forward: true,
    oldOnly: prescription,
  },
  {
    name: 'a required field added inside array items',
    topic: TOPICS.PRESCRIPTION_CREATED,
    mutate: (s) =>
      s.extend({
        medications: z
          .array(item.extend({ route: z.string() }))
          .min(1)
          .max(50),
      }),
    path: 'medications[].route',
    rule: 'required-field-added',
    backward: false,
    forward: true,
    oldOnly: { ...prescription, medications: [medication()] },
  },
  {
    name: 'an optional field added inside open array items',
    topic: TOPICS.PRESCRIPTION_CREATED,
    mutate: (s) =>
      s.extend({
        medications: z
          .array(item.extend({ route: z.string().optional() }))
          .min(1)
          .max(50),
      }),
    path: 'medications[].route',
    rule: 'optional-field-added',
    backward: true,
    forward: true,
  },
  {
    name: 'array items closed (additionalProperties: false)',
    topic: TOPICS.PRESCRIPTION_CREATED,
    mutate: (s) => s.extend({ medications: z.array(item.strict()).min(1).max(50) }),
    path: 'medications[]',
    rule: 'object-closed',
    backward: false,
    forward: true,
    oldOnly: { ...prescription, medications: [medication({ route: 'oral' })] },
  },
];

/** The catalog entry with the mutated schema (and a mode): what a pull request would change. */
const mutated = (m: Mutation, mode: CompatibilityMode = 'FULL'): EventDefinition => {
  const original = definitionOf(m.topic);
  return { ...original, schema: m.mutate(original.schema), compatibility: mode };
};

/** Released files as the original catalog entry writes them. */
const releasedFrom = (topic: Topic, definition: EventDefinition) => {
  const files = new Map([[schemaPath(topic, 1), renderSchema(jsonSchemaFor(topic, definition, 1))]]);
  return (path: string) => files.get(path);
};

const guard = (m: Mutation, mode: CompatibilityMode) =>
  checkDefinition(m.topic, mutated(m, mode), releasedFrom(m.topic, definitionOf(m.topic)));

/** The same change undone: released as mutated, the catalog back to the original. */
const guardReverse = (m: Mutation, mode: CompatibilityMode) =>
  checkDefinition(
    m.topic,
    { ...definitionOf(m.topic), compatibility: mode },
    releasedFrom(m.topic, mutated(m)),
  );

describe('compatibility guard: mutation corpus', () => {
  it.each(CORPUS)('$name: named with its path and rule, BACKWARD and FORWARD as documented', (m) => {
    // Act
    const changes = diffSchemas(
      jsonSchemaFor(m.topic, definitionOf(m.topic), 1),
      jsonSchemaFor(m.topic, mutated(m), 1),
    );
    const backward = guard(m, 'BACKWARD');
    const forward = guard(m, 'FORWARD');
    const full = guard(m, 'FULL');
    // Assess: the change is found where it is, and each mode decides as the rules say
    expect(changes.map((c) => `${c.path} ${c.rule}`)).toContain(`${m.path} ${m.rule}`);
    expect(backward.length === 0).toBe(m.backward);
    expect(forward.length === 0).toBe(m.forward);
    expect(full.length === 0).toBe(m.backward && m.forward);
    expect(guard(m, 'NONE')).toEqual([]);
    for (const message of full) {
      expect(message).toMatch(new RegExp(`^${m.topic.replaceAll('.', '\\.')} v1: field "`));
      expect(message).toContain('Instead:');
      expect(message).toContain('release schemaVersion 2');
    }
    if (full.length > 0) expect(full.join('\n')).toContain(`field "${m.path}": ${m.rule} (`);
  });

  it.each(CORPUS)('$name, undone: BACKWARD and FORWARD swap', (m) => {
    expect(guardReverse(m, 'BACKWARD').length === 0).toBe(m.forward);
    expect(guardReverse(m, 'FORWARD').length === 0).toBe(m.backward);
  });

  it.each(CORPUS.filter((m) => m.oldOnly || m.newOnly))(
    '$name: the zod readers behave as the rule says',
    (m) => {
      const before = definitionOf(m.topic).schema;
      const after = m.mutate(before);
      if (m.oldOnly) {
        expect(before.safeParse(m.oldOnly).success, 'released schema reads it').toBe(true);
        expect(after.safeParse(m.oldOnly).success, 'mutated schema refuses it').toBe(false);
      }
      if (m.newOnly) {
        expect(after.safeParse(m.newOnly).success, 'mutated schema reads it').toBe(true);
        expect(before.safeParse(m.newOnly).success, 'released schema refuses it').toBe(false);
      }
    },
  );

  it('every rule a FULL topic can break is in the corpus', () => {
    const covered = new Set(CORPUS.map((m) => m.rule));
    for (const rule of [
      'required-field-added',
      'required-field-removed',
      'field-made-required',
      'field-made-optional',
      'type-changed',
      'type-widened',
      'enum-value-added',
      'enum-value-removed',
      'format-added',
      'format-removed',
      'pattern-changed',
      'upper-bound-lowered',
      'upper-bound-raised',
      'lower-bound-raised',
      'object-closed',
    ] satisfies Rule[])
      expect(covered, rule).toContain(rule);
  });

  it('DISABLED refuses even a compatible change; a description-only change is no change', () => {
    const optional = CORPUS.find((m) => m.rule === 'optional-field-added') as Mutation;
    expect(guard(optional, 'DISABLED')).toHaveLength(1);
    const original = definitionOf(TOPICS.APPOINTMENT_REQUESTED);
    const reworded = { ...original, description: 'Reworded.', compatibility: 'DISABLED' as const };
    expect(
      checkDefinition(
        TOPICS.APPOINTMENT_REQUESTED,
        reworded,
        releasedFrom(TOPICS.APPOINTMENT_REQUESTED, original),
      ),
    ).toEqual([]);
  });

  it('adding a field to a closed object breaks FORWARD: yesterday’s strict consumers refuse it', () => {
    const closed = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false };
    const open = { type: 'object', properties: { a: { type: 'string' } } };
    const withB = (s: object) => ({ ...s, properties: { a: { type: 'string' }, b: { type: 'string' } } });
    expect(breakingChanges(closed, withB(closed), 'FORWARD').map((c) => c.rule)).toEqual([
      'optional-field-added',
    ]);
    expect(breakingChanges(open, withB(open), 'FULL')).toEqual([]);
  });
});

describe('compatibility guard: releasing schemaVersion N+1', () => {
  const topic = TOPICS.APPOINTMENT_CANCELLED;
  const v1 = definitionOf(topic);
  const v2Schema = v1.schema.extend({ cancelledBy: z.enum(['patient', 'doctor', 'system', 'admin']) });
  const released = releasedFrom(topic, v1);

  it('accepts a breaking change released as v2 while v1 is still accepted', () => {
    const v2: EventDefinition = {
      ...v1,
      schema: v2Schema,
      schemaVersion: 2,
      earlier: [earlierVersion(1, v1.schema, (e) => e)],
    };
    expect(checkDefinition(topic, v2, released)).toEqual([]);
  });

  it('refuses v2 when consumers no longer accept v1, whose events are still on the topic', () => {
    const v2: EventDefinition = { ...v1, schema: v2Schema, schemaVersion: 2 };
    expect(checkDefinition(topic, v2, released)).toEqual([
      expect.stringMatching(/^appointment\.appointment\.cancelled v2: version 1 is no longer accepted/),
    ]);
  });

  it('refuses a change to v1 once v2 is out: a superseded version is frozen', () => {
    const v2: EventDefinition = {
      ...v1,
      schema: v2Schema,
      schemaVersion: 2,
      earlier: [earlierVersion(1, v1.schema.extend({ note: z.string().optional() }), (e) => e)],
    };
    expect(checkDefinition(topic, v2, released)).toEqual([
      expect.stringMatching(/v1: field "note": optional-field-added .* superseded version, which is frozen/),
    ]);
  });
});
