import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { type AuditEntry, auditKey, type ChainedAuditEntry } from '../functions/audit/audit.ts';
import { type AuditIndex, queryAudit } from '../functions/audit/store.ts';
import { type Channel, deliveryId, getDelivery } from '../functions/notification/deliveries.ts';
import { CONSUMERS, type ConsumerDefinition } from '../infra/consumers.ts';
import { parseFunctionName } from '../infra/names.ts';
import { describeProblem, verifyChainAt } from '../infra/ops/audit-cli.ts';
import { type DlqEntry, describeRecords, phiValuesOf, recordsOf, scrub } from '../infra/ops/dlq.ts';
import { type DlqContext, listEntries } from '../infra/ops/dlq-cli.ts';
import { readRange } from '../infra/ops/read-range.ts';
import { CATALOG, isCatalogTopic, phiFieldsOf, TOPICS } from '../shared/events/index.ts';
import type { KafkaProducer } from '../shared/kafka/producer.ts';
import type { RawRecord } from '../shared/kafka/record.ts';
import { dynamo } from '../shared/lambda/clients.ts';
import { sha256 } from '../shared/lambda/ids.ts';
import { requireEnv } from '../shared/lambda/settings.ts';

/** A problem with what the operator asked for: shown in the page as it is (never a stack trace). */
export class InputError extends Error {
  override name = 'InputError';
}

export const SEARCH_KINDS = ['correlationId', 'eventId', 'appointmentId', 'patientId', 'doctorId'] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

/** Ids as the catalog allows them (1–128 characters), without spaces or markup. */
const ID = /^[\w.:@#~+=-]{1,128}$/;

export const checkId = (what: string, value: string | undefined): string => {
  const v = (value ?? '').trim();
  if (!v) throw new InputError(`Enter a ${what}.`);
  if (!ID.test(v))
    throw new InputError(
      `"${v.slice(0, 40)}" is not a valid ${what}: 1 to 128 letters, digits or . _ : @ # ~ + = -`,
    );
  return v;
};

export interface ConsoleDeps {
  kafka: Kafka;
  dlq: DlqContext;
  producer: KafkaProducer;
  /** The consumer group of a function's event-source mapping on a topic (differs per stage). */
  groupIdFor(consumer: ConsumerDefinition, topic: string): string;
  /** Who is at the console (the reveal's and the replay's actor). */
  operator: string;
}

export interface Outcome {
  consumer: string;
  /** handled | pending | dead-lettered | dead-lettered, replayed */
  status: string;
  detail: string;
  /** The dead letter, for a dead-lettered outcome. */
  deadLetterId?: string;
}

export interface TimelineItem {
  kind: 'event' | 'dead-letter';
  eventId: string;
  topic: string;
  at: string;
  actor: string;
  summary: Record<string, unknown>;
  phiFields: readonly string[];
  outcomes: Outcome[];
  record?: { topic: string; partition: number; offset: string };
  deadLetterId?: string;
}

/** Consumers of infra/consumers.ts that read a topic. */
const consumersOf = (topic: string) =>
  CONSUMERS.filter((c) => (c.topics as readonly string[]).includes(topic));

const actorOf = (e: AuditEntry) =>
  e.performedBy ? `${e.performedBy} (${e.performedByType})` : 'actor unknown';

const getEntry = async (eventId: string): Promise<ChainedAuditEntry | undefined> =>
  (
    await dynamo().send(
      new GetCommand({ TableName: requireEnv('AUDIT_TABLE'), Key: auditKey(eventId), ConsistentRead: true }),
    )
  ).Item as ChainedAuditEntry | undefined;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Dead letters are read once per few seconds at most: a listing joins a consumer group. */
let dlqCache: { at: number; entries: Promise<DlqEntry[]> } | undefined;
export const deadLetters = (deps: ConsoleDeps, fresh = false): Promise<DlqEntry[]> => {
  if (fresh || !dlqCache || Date.now() - dlqCache.at > 5_000) {
    const entries = listEntries(deps.dlq);
    dlqCache = { at: Date.now(), entries };
    entries.catch(() => {
      dlqCache = undefined;
    });
  }
  return dlqCache.entries;
};

/** The original record of a Kafka dead letter, parsed (undefined for bytes that are not JSON). */
const letterValue = (entry: DlqEntry): Record<string, unknown> | undefined => {
  const m = entry.letter?.originalMessage;
  return m && typeof m === 'object' ? (m as Record<string, unknown>) : undefined;
};

/**
 * Every event of the flow the id belongs to, in time order. The audit trail is the index: the id's own
 * entries (by event, resource, patient or actor), then everything of the same patients linked to them by
 * correlationId, causationId or appointmentId, until nothing new joins. Dead letters whose original record
 * names one of the flow's ids join as "dead-lettered"; each event lists the consumers that read its topic
 * and what they did.
 */
export const findFlow = async (
  deps: ConsoleDeps,
  kind: SearchKind,
  rawValue: string,
): Promise<TimelineItem[]> => {
  const value = checkId(kind, rawValue);
  let seeds: AuditEntry[] = [];
  if (kind === 'eventId' || kind === 'correlationId') {
    const entry = await getEntry(value);
    if (entry && (kind === 'eventId' || entry.correlationId === value)) seeds = [entry];
  } else if (kind === 'appointmentId') {
    seeds = await queryAudit('byResource', `appointment#${value}`, 1000);
  } else if (kind === 'patientId') {
    seeds = [...(await queryAudit('byPatient', value, 1000)), ...(await queryAudit('byActor', value, 1000))];
  } else {
    seeds = await queryAudit('byActor', value, 1000);
  }
  const flow = new Map<string, AuditEntry>();
  const ids = { events: new Set<string>(), correlations: new Set<string>(), appointments: new Set<string>() };
  const patients = new Set<string>();
  const take = (e: AuditEntry) => {
    if (flow.has(e.eventId)) return false;
    flow.set(e.eventId, e);
    ids.events.add(e.eventId);
    ids.correlations.add(e.correlationId);
    const appointment = str(e.metadata.appointmentId);
    if (appointment) ids.appointments.add(appointment);
    if (e.patientId) patients.add(e.patientId);
    return true;
  };
  for (const s of seeds) take(s);
  if (kind === 'appointmentId') ids.appointments.add(value);
  if (kind === 'correlationId') ids.correlations.add(value);
  const linked = (e: AuditEntry) =>
    ids.correlations.has(e.correlationId) ||
    (e.causationId !== undefined && ids.events.has(e.causationId)) ||
    ids.appointments.has(str(e.metadata.appointmentId) ?? '');
  const searched = new Set<string>();
  for (let round = 0; round < 10; round++) {
    const next = [...patients].filter((p) => !searched.has(p));
    if (next.length === 0) break;
    const candidates: AuditEntry[] = [];
    for (const p of next) {
      searched.add(p);
      candidates.push(...(await queryAudit('byPatient', p, 1000)));
    }
    for (let changed = true; changed; ) {
      changed = false;
      for (const c of candidates) if (!flow.has(c.eventId) && linked(c)) changed = take(c) || changed;
    }
  }

  const matchValues = new Set<string>([
    value,
    ...ids.events,
    ...ids.correlations,
    ...ids.appointments,
    ...(kind === 'patientId' || kind === 'doctorId' ? [value] : []),
  ]);
  const all = await deadLetters(deps);
  const byIds = all.filter((d) => {
    const v = letterValue(d);
    if (!v) return false;
    return ['eventId', 'correlationId', 'appointmentId', 'patientId', 'doctorId'].some((f) => {
      const x = str(v[f]);
      return x !== undefined && matchValues.has(x) && (f !== 'patientId' || kind === 'patientId');
    });
  });
  if (flow.size === 0 && byIds.length === 0)
    throw new InputError(
      `No event found for ${kind} "${value}" (audit trail and dead letters searched).${
        kind === 'correlationId'
          ? ' A correlationId is found through the event that started the flow, whose eventId it is unless its producer gave another: search by that event, the appointment or the patient.'
          : ''
      }`,
    );

  const offsets = await committedOffsets(deps, [...flow.values()]);
  const items: TimelineItem[] = [];
  const attached = new Set<string>();
  for (const e of flow.values()) {
    // Dead letters of this event: its record (either tier's offsets), or a copy of it (same eventId).
    const letters = all.filter(
      (d) =>
        d.ranges.some(
          (r) =>
            r.topic === e.topic &&
            r.partition === e.partition &&
            BigInt(r.first) <= BigInt(e.offset) &&
            BigInt(e.offset) <= BigInt(r.last),
        ) || str(letterValue(d)?.eventId) === e.eventId,
    );
    for (const d of letters) attached.add(d.id);
    items.push({
      kind: 'event',
      eventId: e.eventId,
      topic: e.topic,
      at: e.occurredAt,
      actor: actorOf(e),
      summary: summaryOf(e.metadata),
      phiFields: phiFieldsOf(e.topic),
      outcomes: [
        ...(await outcomesOf(deps, e, [...flow.values()], offsets)),
        ...(await Promise.all(letters.map((d) => letterOutcome(deps, d)))),
      ],
      record: { topic: e.topic, partition: e.partition, offset: e.offset },
    });
  }
  for (const d of byIds.filter((x) => !attached.has(x.id))) {
    const v = letterValue(d) ?? {};
    const topic = d.letter?.originalTopic ?? d.ranges[0]?.topic ?? '';
    const actor = v.actor as { id?: string; type?: string } | undefined;
    items.push({
      kind: 'dead-letter',
      eventId: str(v.eventId) ?? '(no eventId)',
      topic,
      at: typeof v.timestamp === 'string' ? v.timestamp : d.timestamp,
      actor: actor?.id ? `${actor.id} (${actor.type})` : 'actor unknown',
      summary: summaryOf(
        Object.fromEntries(Object.entries(v).filter(([k]) => !phiFieldsOf(topic).includes(k))),
      ),
      phiFields: phiFieldsOf(topic),
      outcomes: [await letterOutcome(deps, d)],
      deadLetterId: d.id,
    });
  }
  return items.sort((a, b) => a.at.localeCompare(b.at));
};

/** A dead letter as an outcome: who gave up, why (scrubbed of the record's PHI values), replayed or not. */
const letterOutcome = async (deps: ConsoleDeps, d: DlqEntry): Promise<Outcome> => ({
  consumer: parseFunctionName(d.failedBy)?.name ?? d.failedBy,
  status: d.replays?.length ? 'dead-lettered, replayed' : 'dead-lettered',
  detail: `${d.source === 'kafka' ? 'dead-lettered' : 'given up by its event-source mapping'}: ${scrub(
    d.reason,
    phiValuesOf(d.letter ? [await firstRecord(deps, d)] : []),
  )}${d.replays?.length ? ` (replayed ${d.replays.length}×)` : ''}`,
  deadLetterId: d.id,
});

const firstRecord = async (deps: ConsoleDeps, d: DlqEntry) =>
  (await recordsOf(deps.kafka, d))[0] as RawRecord;

const ENVELOPE = new Set(['eventType', 'eventId', 'schemaVersion', 'timestamp', 'service', 'actor']);
const summaryOf = (metadata: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(metadata).filter(([k]) => !ENVELOPE.has(k)));

type Offsets = Map<string, Map<number, bigint>>;

/** Committed offsets of every consumer group that reads the flow's topics (group → partition → offset). */
const committedOffsets = async (deps: ConsoleDeps, entries: AuditEntry[]): Promise<Offsets> => {
  const out: Offsets = new Map();
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    for (const topic of new Set(entries.map((e) => e.topic))) {
      for (const c of consumersOf(topic)) {
        const groupId = deps.groupIdFor(c, topic);
        const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
        out.set(
          `${groupId}|${topic}`,
          new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)])),
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
  return out;
};

/** What each consumer of the event's topic did with it. */
const outcomesOf = async (
  deps: ConsoleDeps,
  e: AuditEntry,
  flow: AuditEntry[],
  offsets: Offsets,
): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  for (const c of consumersOf(e.topic)) {
    const committed = offsets.get(`${deps.groupIdFor(c, e.topic)}|${e.topic}`)?.get(e.partition);
    const handled = committed !== undefined && committed > BigInt(e.offset);
    const status = handled ? 'handled' : 'pending';
    let detail = handled ? 'handled' : 'not committed yet';
    if (c.name === 'audit') {
      const chained = e as Partial<ChainedAuditEntry>;
      detail = `audited (chain ${e.chainKey} #${chained.chainSeq ?? '?'})`;
    } else if (c.name === 'notification') {
      const sent: string[] = [];
      const recipients = new Set(
        ['patientId', 'doctorId', 'receiverId', 'referringDoctorId', 'specialistId']
          .map((f) => str(e.metadata[f]))
          .filter((x): x is string => Boolean(x)),
      );
      for (const r of recipients)
        for (const channel of ['in_app', 'email'] as Channel[]) {
          const d = await getDelivery(deliveryId(e.eventId, r, channel)).catch(() => undefined);
          if (d) sent.push(`${r} by ${channel}${d.superseded ? ' (superseded)' : ''} [${d.status}]`);
        }
      if (sent.length) detail = `notified ${sent.join(', ')}`;
      else if (handled) detail = 'handled, nobody notified (contact projection or no rule)';
    } else if (c.name === 'consultation-drafts') {
      const draft = flow.find((f) => f.causationId === e.eventId && f.topic === TOPICS.CONSULTATION_CREATED);
      if (draft) detail = `draft created: consultation ${String(draft.metadata.consultationId)}`;
    }
    out.push({ consumer: c.name, status: handled || c.name === 'audit' ? 'handled' : status, detail });
  }
  return out;
};

// ---- Reveal ----

export interface Revealed {
  fields: Record<string, unknown>;
  auditEventId: string;
}

/**
 * Reveals one record's PHI fields: reads the record (Kafka, or the dead letter's copy), checks it against
 * the audit entry's payload hash when there is one, and publishes `ops.phi.revealed` naming who, which
 * record and which fields, before returning the values. No event, no values.
 */
export const revealRecord = async (
  deps: ConsoleDeps,
  ref: { eventId?: string; deadLetterId?: string; recordIndex?: number },
): Promise<Revealed> => {
  let record: RawRecord | undefined;
  let entry: AuditEntry | undefined;
  if (ref.deadLetterId) {
    const d = (await deadLetters(deps)).find((x) => x.id === ref.deadLetterId);
    if (!d) throw new InputError(`No dead letter ${ref.deadLetterId}.`);
    const records = await recordsOf(deps.kafka, d);
    const index = ref.recordIndex ?? 0;
    if (!Number.isInteger(index) || index < 0 || index >= Math.max(records.length, 1))
      throw new InputError(`Dead letter ${ref.deadLetterId} has no record #${index + 1}.`);
    record = records[index];
  } else {
    const eventId = checkId('eventId', ref.eventId);
    entry = await getEntry(eventId);
    if (!entry) throw new InputError(`No audited event ${eventId}.`);
    [record] = await readRange(
      deps.kafka,
      { topic: entry.topic, partition: entry.partition, first: entry.offset, last: entry.offset },
      20_000,
    );
    if (record && sha256(record.value ?? new Uint8Array()) !== entry.payloadSha256)
      throw new InputError(
        `The record at ${entry.topic}-${entry.partition}@${entry.offset} does not match its audit entry.`,
      );
  }
  if (!record) throw new InputError('The record is no longer in Kafka (retention); nothing to reveal.');
  const [described] = describeRecords([record], true);
  const parsed = described?.value;
  // Bytes that are not a JSON object (a malformed record) are revealed whole, as one field.
  const value: Record<string, unknown> =
    parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { value: parsed };
  const phi =
    isCatalogTopic(record.topic) && 'eventType' in value ? phiFieldsOf(record.topic) : Object.keys(value);
  const fields = Object.fromEntries(phi.filter((f) => f in value).map((f) => [f, value[f]]));
  const patientField = isCatalogTopic(record.topic)
    ? (CATALOG[record.topic] as { patientField?: string }).patientField
    : undefined;
  const patientId =
    entry?.patientId ??
    str(value[patientField ?? 'patientId']) ??
    (phi.length ? str(value.userId) : undefined);
  const { eventId: auditEventId } = await deps.producer.publish(
    TOPICS.PHI_REVEALED,
    {
      revealId: randomUUID(),
      ...(patientId ? { patientId } : {}),
      recordTopic: record.topic,
      recordPartition: record.partition,
      recordOffset: record.offset,
      ...(str(value.eventId) ? { recordEventId: str(value.eventId) } : {}),
      fields: Object.keys(fields),
      via: 'console',
    },
    { actor: { id: deps.operator, type: 'admin' }, service: 'console' },
  );
  await deps.producer.flush();
  return { fields, auditEventId };
};

/** A dead letter for display: its records with PHI fields hidden, free text scrubbed of their values. */
export const deadLetterDetail = async (deps: ConsoleDeps, id: string) => {
  const d = (await deadLetters(deps)).find((x) => x.id === id);
  if (!d) throw new InputError(`No dead letter ${id}: it was replayed and removed, or never existed.`);
  const raw = await recordsOf(deps.kafka, d);
  const values = phiValuesOf(raw);
  return {
    entry: d,
    reason: scrub(d.reason, values),
    records: JSON.parse(scrub(JSON.stringify(describeRecords(raw, false)), values)) as ReturnType<
      typeof describeRecords
    >,
  };
};

// ---- Audit review ----

export const AUDIT_KINDS: Record<string, AuditIndex> = {
  patient: 'byPatient',
  actor: 'byActor',
  resource: 'byResource',
};

export interface ChainStatus {
  chainKey: string;
  status: 'ok' | 'pending' | 'broken';
  detail: string;
}

export const auditReview = async (kind: string, rawValue: string) => {
  const index = AUDIT_KINDS[kind];
  if (!index) throw new InputError(`Unknown audit view "${kind}": use patient, actor or resource.`);
  const value = checkId(kind === 'resource' ? 'resource (type#id)' : `${kind} id`, rawValue);
  if (kind === 'resource' && !value.includes('#'))
    throw new InputError(`A resource is written type#id, e.g. appointment#apt-1 (got "${value}").`);
  const entries = await queryAudit(index, value, 1000);
  const chains: ChainStatus[] = [];
  for (const chainKey of [...new Set(entries.map((e) => e.chainKey))].sort()) {
    const check = await verifyChainAt(chainKey);
    chains.push(
      check.problem
        ? {
            chainKey,
            status: 'broken',
            detail: `broken at seq ${check.problem.seq}: ${describeProblem(check.problem)}`,
          }
        : check.pending
          ? { chainKey, status: 'pending', detail: `newest entry #${check.pending.seq} being written` }
          : { chainKey, status: 'ok', detail: `${check.entries} entries verified` },
    );
  }
  return { entries, chains };
};

export interface AccessRow {
  when: string;
  who: string;
  whoType: string;
  what: string;
  why: string;
  resource: string;
  eventId: string;
}

/** "Who touched my record, when, why": every audit entry about the patient, oldest first. */
export const accessReport = async (rawPatient: string): Promise<AccessRow[]> => {
  const patientId = checkId('patient id', rawPatient);
  return (await queryAudit('byPatient', patientId, 1000)).map((e) => ({
    when: e.occurredAt,
    who: e.performedBy ?? 'actor unknown',
    whoType: e.performedByType,
    what: e.action,
    why:
      e.action === TOPICS.PHI_REVEALED
        ? `revealed ${((e.metadata.fields as string[] | undefined) ?? []).join(', ')} of ${String(e.metadata.recordTopic)}-${String(e.metadata.recordPartition)}@${String(e.metadata.recordOffset)} in the operator console`
        : e.description,
    resource: e.resourceKey,
    eventId: e.eventId,
  }));
};

/**
 * RFC 4180 quoting, and a leading apostrophe on a cell a spreadsheet would read as a formula (=, +, -, @,
 * tab, CR: OWASP's CSV injection advice), since ids and descriptions come from events.
 */
const csvCell = (value: string) => {
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
};

export const accessReportCsv = (rows: AccessRow[]): string =>
  [
    'when,who,who_type,what,why,resource,event_id',
    ...rows.map((r) =>
      [r.when, r.who, r.whoType, r.what, r.why, r.resource, r.eventId].map(csvCell).join(','),
    ),
  ].join('\r\n');
