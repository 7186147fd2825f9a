import * as z from 'zod';
import { freeText, hhmm, id, isoDate, isoDateTime, language, role } from './fields.ts';
import { DLQ_TOPIC, TOPICS, type TopicName } from './topics.ts';

/**
 * THE event catalog: for every topic its payload schema, partition key, PHI fields, the resource it is
 * about (for audit rows), partitions and retention. Everything that names a topic or a field reads this:
 * the typed `publish`, validation on both ends, topic provisioning (local and MSK), the AsyncAPI document,
 * log and audit redaction. Adding an event is one entry here and nothing else.
 *
 * The payload schema lists only the event's own fields; the envelope (envelope.ts) adds `eventType`,
 * `eventId`, `schemaVersion`, `timestamp`, `service`, `actor`, `correlationId`, `causationId`.
 */
type Fields<S extends z.ZodObject> = Extract<keyof z.infer<S>, string>;

/**
 * How a topic's schema may change within one `schemaVersion` (docs/schemas.md defines each rule); the names
 * are AWS Glue's, which the CDK app gives the topic's Glue schema. BACKWARD: today's consumers read yesterday's
 * events; FORWARD: yesterday's consumers read today's; FULL: both. `_ALL` also holds against every earlier
 * revision (checked by Glue in the account; the repository keeps the last release). NONE: no check;
 * DISABLED: no change at all.
 */
export type CompatibilityMode =
  | 'NONE'
  | 'DISABLED'
  | 'BACKWARD'
  | 'BACKWARD_ALL'
  | 'FORWARD'
  | 'FORWARD_ALL'
  | 'FULL'
  | 'FULL_ALL';

/**
 * An earlier `schemaVersion` consumers still accept: its payload schema, and how one of its events reads in
 * the newest version's shape, so handlers are written against the newest version only. Kept while events of
 * that version can still be read (docs/schemas.md: retention, dead-letter replays).
 */
export interface EarlierVersion<S extends z.ZodObject = z.ZodObject> {
  schemaVersion: number;
  schema: z.ZodObject;
  /** Takes the earlier version's validated payload; its result is validated against the newest schema. */
  upgrade: (payload: never) => z.input<S>;
}

/** An earlier version whose `upgrade` is typed by its own schema (the result by the topic's newest schema). */
export const earlierVersion = <O extends z.ZodObject, R>(
  schemaVersion: number,
  schema: O,
  upgrade: (payload: z.output<O>) => R,
): { schemaVersion: number; schema: O; upgrade: (payload: z.output<O>) => R } => ({
  schemaVersion,
  schema,
  upgrade,
});

export interface EventDefinition<S extends z.ZodObject = z.ZodObject> {
  schema: S;
  /** Payload field whose value is the Kafka key: ordering holds per value of this field. */
  key: Fields<S>;
  /** Fields that are health data or identify a patient: never logged, never copied into audit metadata. */
  phi: readonly Fields<S>[];
  /** What the event is about, for audit rows (`resourceType`, `resourceId`). */
  resource: { type: string; idField: Fields<S> };
  /** Field holding the patient concerned, when there is one (audit queries by patient). */
  patientField?: Fields<S>;
  partitions: number;
  retentionDays: number;
  /** The version producers publish (`schema`); a breaking change is released as the next one. */
  schemaVersion: number;
  /** Earlier versions consumers still accept, oldest first (none for a topic still at its first version). */
  earlier: readonly EarlierVersion<S>[];
  /** How `schema` may change within `schemaVersion` (test/unit/events/schemas.test.ts enforces it). */
  compatibility: CompatibilityMode;
  description: string;
}

const DEFAULTS = {
  partitions: 3,
  retentionDays: 7,
  schemaVersion: 1,
  earlier: [],
  compatibility: 'FULL',
} as const;

/**
 * A catalog entry. Its payload schema is given as a function and built the first time `schema` is read, then
 * kept: a process builds the schemas of the topics it touches, not all of them at import (a Lambda function
 * reads a few topics; building every topic's zod schema was part of each function's cold start).
 */
const define = <S extends z.ZodObject>(
  def: Omit<EventDefinition<S>, keyof typeof DEFAULTS | 'schema'> &
    Partial<Pick<EventDefinition<S>, keyof typeof DEFAULTS>> & { schema: () => S },
): EventDefinition<S> => {
  const { schema: build, ...rest } = def;
  let built: S | undefined;
  return {
    ...DEFAULTS,
    ...rest,
    get schema() {
      built ??= build();
      return built;
    },
  };
};

const changedFields = z.array(z.string().min(1).max(64)).min(1).max(50);

export const CATALOG = {
  [TOPICS.USER_REGISTERED]: define({
    description:
      'A user created an account (seed schema, plus contact fields the notification projection keeps).',
    schema: () =>
      z.object({
        userId: id,
        email: z.email(),
        role,
        firstName: z.string().min(1).max(100).optional(),
        lastName: z.string().min(1).max(100).optional(),
        language: language.optional(),
      }),
    key: 'userId',
    phi: ['email', 'firstName', 'lastName'],
    resource: { type: 'user', idField: 'userId' },
  }),
  [TOPICS.USER_VERIFIED]: define({
    description: 'A user verified their e-mail address.',
    schema: () => z.object({ userId: id }),
    key: 'userId',
    phi: [],
    resource: { type: 'user', idField: 'userId' },
  }),
  [TOPICS.USER_LOGGED_IN]: define({
    description: 'A user opened a session.',
    schema: () =>
      z.object({ userId: id, sessionId: id, ipAddress: z.union([z.ipv4(), z.ipv6()]).optional() }),
    key: 'userId',
    phi: ['ipAddress'],
    resource: { type: 'session', idField: 'sessionId' },
    retentionDays: 3,
  }),
  [TOPICS.USER_LOGGED_OUT]: define({
    description: 'A user closed a session.',
    schema: () => z.object({ userId: id, sessionId: id }),
    key: 'userId',
    phi: [],
    resource: { type: 'session', idField: 'sessionId' },
    retentionDays: 3,
  }),
  [TOPICS.PASSWORD_RESET]: define({
    description: 'A user reset their password.',
    schema: () => z.object({ userId: id }),
    key: 'userId',
    phi: [],
    resource: { type: 'user', idField: 'userId' },
  }),
  [TOPICS.PROFILE_UPDATED]: define({
    description:
      'A user changed their profile; carries the new contact fields the notification projection needs.',
    schema: () =>
      z.object({
        userId: id,
        changedFields,
        email: z.email().optional(),
        firstName: z.string().min(1).max(100).optional(),
        lastName: z.string().min(1).max(100).optional(),
        phone: z.string().min(3).max(32).optional(),
        language: language.optional(),
      }),
    key: 'userId',
    phi: ['email', 'firstName', 'lastName', 'phone'],
    resource: { type: 'user', idField: 'userId' },
  }),
  [TOPICS.PHOTO_UPDATED]: define({
    description: 'A user changed their profile photo.',
    schema: () => z.object({ userId: id, photoUrl: z.url() }),
    key: 'userId',
    phi: ['photoUrl'],
    resource: { type: 'user', idField: 'userId' },
  }),

  [TOPICS.APPOINTMENT_REQUESTED]: define({
    description: 'A patient asked a doctor for an appointment (seed flow 1, step 1).',
    schema: () =>
      z.object({
        appointmentId: id,
        patientId: id,
        doctorId: id,
        appointmentDate: isoDate,
        appointmentTime: hhmm,
        reason: freeText.optional(),
      }),
    key: 'appointmentId',
    phi: ['reason'],
    resource: { type: 'appointment', idField: 'appointmentId' },
    patientField: 'patientId',
    partitions: 6,
  }),
  [TOPICS.APPOINTMENT_CONFIRMED]: define({
    description: 'The doctor confirmed the appointment (seed schema; seed flow 1, step 4).',
    schema: () =>
      z.object({
        appointmentId: id,
        patientId: id,
        doctorId: id,
        appointmentDate: isoDate,
        appointmentTime: hhmm,
      }),
    key: 'appointmentId',
    phi: [],
    resource: { type: 'appointment', idField: 'appointmentId' },
    patientField: 'patientId',
    partitions: 6,
  }),
  [TOPICS.APPOINTMENT_REJECTED]: define({
    description: 'The doctor declined the appointment.',
    schema: () => z.object({ appointmentId: id, patientId: id, doctorId: id, reason: freeText.optional() }),
    key: 'appointmentId',
    phi: ['reason'],
    resource: { type: 'appointment', idField: 'appointmentId' },
    patientField: 'patientId',
    partitions: 6,
  }),
  [TOPICS.APPOINTMENT_CANCELLED]: define({
    description: 'The patient, the doctor or the system cancelled the appointment.',
    schema: () =>
      z.object({
        appointmentId: id,
        patientId: id,
        doctorId: id,
        cancelledBy: z.enum(['patient', 'doctor', 'system']),
        reason: freeText.optional(),
      }),
    key: 'appointmentId',
    phi: ['reason'],
    resource: { type: 'appointment', idField: 'appointmentId' },
    patientField: 'patientId',
    partitions: 6,
  }),
  [TOPICS.APPOINTMENT_COMPLETED]: define({
    description: 'The appointment took place (seed flow 2, step 1: a consultation draft follows).',
    schema: () =>
      z.object({
        appointmentId: id,
        patientId: id,
        doctorId: id,
        appointmentDate: isoDate,
        completedAt: isoDateTime.optional(),
      }),
    key: 'appointmentId',
    phi: [],
    resource: { type: 'appointment', idField: 'appointmentId' },
    patientField: 'patientId',
    partitions: 6,
  }),
  [TOPICS.REFERRAL_BOOKED]: define({
    description: 'An appointment was booked with a specialist for a referral.',
    schema: () =>
      z.object({
        appointmentId: id,
        referralId: id,
        patientId: id,
        doctorId: id,
        appointmentDate: isoDate,
        appointmentTime: hhmm,
      }),
    key: 'appointmentId',
    phi: [],
    resource: { type: 'appointment', idField: 'appointmentId' },
    patientField: 'patientId',
    partitions: 6,
  }),

  [TOPICS.CONSULTATION_CREATED]: define({
    description: 'A consultation record exists (seed schema); drafts come from completed appointments.',
    schema: () =>
      z.object({
        consultationId: id,
        appointmentId: id,
        patientId: id,
        doctorId: id,
        consultationDate: isoDate,
        diagnosis: freeText,
        status: z.enum(['draft', 'final']).optional(),
      }),
    key: 'consultationId',
    phi: ['diagnosis'],
    resource: { type: 'consultation', idField: 'consultationId' },
    patientField: 'patientId',
  }),
  [TOPICS.CONSULTATION_UPDATED]: define({
    description: 'A consultation record changed; names the changed fields, not their content.',
    schema: () => z.object({ consultationId: id, patientId: id, doctorId: id, changedFields }),
    key: 'consultationId',
    phi: [],
    resource: { type: 'consultation', idField: 'consultationId' },
    patientField: 'patientId',
  }),
  [TOPICS.CONSULTATION_ACCESSED]: define({
    description: 'Someone read a consultation record (access trail).',
    schema: () => z.object({ consultationId: id, patientId: id, accessReason: freeText.optional() }),
    key: 'consultationId',
    phi: ['accessReason'],
    resource: { type: 'consultation', idField: 'consultationId' },
    patientField: 'patientId',
  }),
  [TOPICS.PRESCRIPTION_CREATED]: define({
    description: 'A doctor wrote a prescription.',
    schema: () =>
      z.object({
        prescriptionId: id,
        consultationId: id,
        patientId: id,
        doctorId: id,
        medications: z
          .array(z.object({ name: z.string().min(1).max(200), dosage: z.string().min(1).max(200) }))
          .min(1)
          .max(50),
      }),
    key: 'prescriptionId',
    phi: ['medications'],
    resource: { type: 'prescription', idField: 'prescriptionId' },
    patientField: 'patientId',
  }),
  [TOPICS.PRESCRIPTION_UPDATED]: define({
    description: 'A prescription changed before it was locked.',
    schema: () => z.object({ prescriptionId: id, patientId: id, doctorId: id, changedFields }),
    key: 'prescriptionId',
    phi: [],
    resource: { type: 'prescription', idField: 'prescriptionId' },
    patientField: 'patientId',
  }),
  [TOPICS.PRESCRIPTION_LOCKED]: define({
    description: 'A prescription was signed and can no longer change.',
    schema: () => z.object({ prescriptionId: id, patientId: id, doctorId: id }),
    key: 'prescriptionId',
    phi: [],
    resource: { type: 'prescription', idField: 'prescriptionId' },
    patientField: 'patientId',
  }),
  [TOPICS.DOCUMENT_UPLOADED]: define({
    description: 'A medical document was added to a patient record.',
    schema: () =>
      z.object({
        documentId: id,
        patientId: id,
        documentType: z.string().min(1).max(64),
        fileName: z.string().min(1).max(255),
        mimeType: z.string().min(3).max(127),
        sizeBytes: z.number().int().nonnegative(),
      }),
    key: 'documentId',
    phi: ['documentType', 'fileName'],
    resource: { type: 'document', idField: 'documentId' },
    patientField: 'patientId',
  }),
  [TOPICS.DOCUMENT_ACCESSED]: define({
    description: 'Someone read a medical document (access trail).',
    schema: () => z.object({ documentId: id, patientId: id }),
    key: 'documentId',
    phi: [],
    resource: { type: 'document', idField: 'documentId' },
    patientField: 'patientId',
  }),
  [TOPICS.DOCUMENT_DELETED]: define({
    description: 'A medical document was removed.',
    schema: () => z.object({ documentId: id, patientId: id, reason: freeText.optional() }),
    key: 'documentId',
    phi: ['reason'],
    resource: { type: 'document', idField: 'documentId' },
    patientField: 'patientId',
  }),

  [TOPICS.REFERRAL_CREATED]: define({
    description: 'A doctor referred a patient to a specialist.',
    schema: () =>
      z.object({
        referralId: id,
        patientId: id,
        referringDoctorId: id,
        specialistId: id.optional(),
        specialty: z.string().min(1).max(100),
        urgency: z.enum(['routine', 'urgent']),
        reason: freeText.optional(),
      }),
    key: 'referralId',
    phi: ['specialty', 'reason'],
    resource: { type: 'referral', idField: 'referralId' },
    patientField: 'patientId',
  }),
  [TOPICS.REFERRAL_SCHEDULED]: define({
    description: 'The referral has an appointment with the specialist.',
    schema: () =>
      z.object({
        referralId: id,
        patientId: id,
        referringDoctorId: id,
        specialistId: id,
        appointmentId: id,
        appointmentDate: isoDate,
        appointmentTime: hhmm,
      }),
    key: 'referralId',
    phi: [],
    resource: { type: 'referral', idField: 'referralId' },
    patientField: 'patientId',
  }),
  [TOPICS.REFERRAL_ACCEPTED]: define({
    description: 'The specialist accepted the referral.',
    schema: () => z.object({ referralId: id, patientId: id, referringDoctorId: id, specialistId: id }),
    key: 'referralId',
    phi: [],
    resource: { type: 'referral', idField: 'referralId' },
    patientField: 'patientId',
  }),
  [TOPICS.REFERRAL_REJECTED]: define({
    description: 'The specialist declined the referral.',
    schema: () =>
      z.object({
        referralId: id,
        patientId: id,
        referringDoctorId: id,
        specialistId: id,
        reason: freeText.optional(),
      }),
    key: 'referralId',
    phi: ['reason'],
    resource: { type: 'referral', idField: 'referralId' },
    patientField: 'patientId',
  }),
  [TOPICS.REFERRAL_COMPLETED]: define({
    description: 'The specialist saw the patient and closed the referral.',
    schema: () => z.object({ referralId: id, patientId: id, referringDoctorId: id, specialistId: id }),
    key: 'referralId',
    phi: [],
    resource: { type: 'referral', idField: 'referralId' },
    patientField: 'patientId',
  }),
  [TOPICS.REFERRAL_CANCELLED]: define({
    description: 'The referral was withdrawn.',
    schema: () =>
      z.object({
        referralId: id,
        patientId: id,
        referringDoctorId: id,
        specialistId: id.optional(),
        reason: freeText.optional(),
      }),
    key: 'referralId',
    phi: ['reason'],
    resource: { type: 'referral', idField: 'referralId' },
    patientField: 'patientId',
  }),

  [TOPICS.MESSAGE_SENT]: define({
    description:
      'A message was sent in a conversation (seed schema; the content itself never travels on the bus).',
    schema: () =>
      z.object({
        messageId: id,
        conversationId: id,
        senderId: id,
        receiverId: id,
        messageType: z.enum(['text', 'image', 'document']),
      }),
    key: 'conversationId',
    phi: [],
    resource: { type: 'message', idField: 'messageId' },
    partitions: 6,
  }),
  [TOPICS.MESSAGE_DELIVERED]: define({
    description: "A message reached the receiver's device.",
    schema: () => z.object({ messageId: id, conversationId: id, receiverId: id }),
    key: 'conversationId',
    phi: [],
    resource: { type: 'message', idField: 'messageId' },
    partitions: 6,
  }),
  [TOPICS.MESSAGE_READ]: define({
    description: 'The receiver read a message.',
    schema: () => z.object({ messageId: id, conversationId: id, readerId: id }),
    key: 'conversationId',
    phi: [],
    resource: { type: 'message', idField: 'messageId' },
    partitions: 6,
  }),

  [TOPICS.NOTIFICATION_SENT]: define({
    description: 'The notification function delivered a notification on one channel.',
    schema: () =>
      z.object({
        notificationId: id,
        recipientId: id,
        channel: z.enum(['in_app', 'email']),
        template: z.string().min(1).max(100),
        language,
        sourceEventId: id,
        sourceEventType: z.string().min(1).max(200),
      }),
    key: 'recipientId',
    phi: [],
    resource: { type: 'notification', idField: 'notificationId' },
  }),
  [TOPICS.AUDIT_LOG_CREATED]: define({
    description: 'An audit entry was written (for downstream compliance tooling).',
    schema: () =>
      z.object({
        auditId: id,
        action: z.string().min(1).max(200),
        resourceType: z.string().min(1).max(64),
        resourceId: id,
        patientId: id.optional(),
        sourceEventId: id,
      }),
    key: 'resourceId',
    phi: [],
    resource: { type: 'audit', idField: 'auditId' },
    patientField: 'patientId',
    retentionDays: 30,
  }),
  [TOPICS.PHI_REVEALED]: define({
    description:
      'An operator revealed the PHI fields of one record in the operator console (an access like any other: it is audited).',
    schema: () =>
      z.object({
        revealId: id,
        patientId: id.optional(),
        recordTopic: z.string().min(1).max(249),
        recordPartition: z.number().int().nonnegative(),
        recordOffset: z.string().regex(/^\d+$/),
        recordEventId: id.optional(),
        fields: z.array(z.string().min(1).max(64)).max(50),
        via: z.enum(['console']),
      }),
    key: 'revealId',
    phi: [],
    resource: { type: 'record', idField: 'revealId' },
    patientField: 'patientId',
    retentionDays: 30,
  }),
} as const satisfies Record<TopicName, EventDefinition>;

export type Catalog = typeof CATALOG;
export type Topic = keyof Catalog;
/** What a caller passes to `publish(topic, payload)`. */
export type PayloadOf<T extends Topic> = z.input<Catalog[T]['schema']>;
/** What a consumer gets after validation. */
export type EventOf<T extends Topic> = z.output<Catalog[T]['schema']>;

/** The dead-letter topic is provisioned with the others but has no payload schema (it carries raw bytes). */
/** Dead letters carry the original bytes base64-encoded plus context, so they may exceed the 1 MB default. */
export const DLQ_DEFINITION = { partitions: 3, retentionDays: 14, maxMessageBytes: 8 * 1024 * 1024 } as const;

/**
 * Copies of each partition on MSK: 3 brokers over 3 AZs with `min.insync.replicas=2`, so an `acks=all` write
 * survives one broker down. A single local broker can only hold 1 (`topicSpecs({ replicationFactor: 1 })`).
 */
export const REPLICATION_FACTOR = 3;

const DAY_MS = 86_400_000;

export const catalogTopics = (): Topic[] => Object.keys(CATALOG) as Topic[];

export const isCatalogTopic = (topic: string): topic is Topic => Object.hasOwn(CATALOG, topic);

export const definitionOf = (topic: Topic): EventDefinition => CATALOG[topic] as unknown as EventDefinition;

/** Every `schemaVersion` consumers of `topic` accept, oldest first; the last is the one producers publish. */
export const acceptedVersions = (topic: Topic): number[] => {
  const definition = definitionOf(topic);
  return [...definition.earlier.map((v) => v.schemaVersion), definition.schemaVersion];
};

/** The payload schema of one version a definition accepts (undefined for a version it does not accept). */
export const versionSchema = (definition: EventDefinition, schemaVersion: number): z.ZodObject | undefined =>
  schemaVersion === definition.schemaVersion
    ? definition.schema
    : definition.earlier.find((v) => v.schemaVersion === schemaVersion)?.schema;

/** The payload schema of one accepted version of `topic` (undefined for a version it does not accept). */
export const payloadSchemaOf = (topic: Topic, schemaVersion: number): z.ZodObject | undefined =>
  versionSchema(definitionOf(topic), schemaVersion);

/** Topic-level Kafka configs the bus sets (names as Kafka spells them); everything else is the broker default. */
export interface TopicConfigs {
  'retention.ms': number;
  'max.message.bytes'?: number;
}

/** One topic as every provisioner creates it: the local admin, the CDK app (AWS::MSK::Topic), AsyncAPI. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** Same value as `configs['retention.ms']`. */
  retentionMs: number;
  configs: TopicConfigs;
}

/**
 * Every topic to provision, the DLQ included: the one place where catalog entries become partitions,
 * replication and topic configs (retention days to `retention.ms`, the DLQ's larger `max.message.bytes`).
 */
export const topicSpecs = (options: { replicationFactor?: number } = {}): TopicSpec[] => {
  const replicationFactor = options.replicationFactor ?? REPLICATION_FACTOR;
  const spec = (topic: string, partitions: number, retentionDays: number, maxMessageBytes?: number) => {
    const retentionMs = retentionDays * DAY_MS;
    const configs: TopicConfigs = { 'retention.ms': retentionMs };
    if (maxMessageBytes !== undefined) configs['max.message.bytes'] = maxMessageBytes;
    return { topic, partitions, replicationFactor, retentionMs, configs };
  };
  return [
    ...catalogTopics().map((topic) => spec(topic, CATALOG[topic].partitions, CATALOG[topic].retentionDays)),
    spec(DLQ_TOPIC, DLQ_DEFINITION.partitions, DLQ_DEFINITION.retentionDays, DLQ_DEFINITION.maxMessageBytes),
  ];
};

/** Topic configs as strings, the form Kafka's CreateTopics and AWS::MSK::Topic `Configs` take. */
export const topicConfigStrings = (spec: Pick<TopicSpec, 'configs'>): Record<string, string> =>
  Object.fromEntries(Object.entries(spec.configs).map(([name, value]) => [name, String(value)]));
