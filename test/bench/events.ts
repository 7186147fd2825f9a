import { randomUUID } from 'node:crypto';
import {
  type EncodedEvent,
  type EventMeta,
  encodeEvent,
  type PayloadOf,
  TOPICS,
} from '../../shared/events/index.ts';

/**
 * Realistic catalog events of about 1 KB serialized (the record size the benchmarks are set at): the free-text PHI field
 * (`reason`, `diagnosis`) holds a clinical note padded so that the encoded value is ~1,024 bytes. Ids are
 * unique per event, so keys spread over partitions as in production.
 */
export const TARGET_VALUE_BYTES = 1024;

const NOTE =
  'Patient de 54 ans, suivi pour hypertension artérielle et dyslipidémie. Consulte pour douleurs ' +
  'thoraciques atypiques intermittentes depuis trois semaines, sans irradiation, non liées à l’effort, ' +
  'associées à des palpitations nocturnes. Pas de dyspnée ni de syncope. Traitement habituel : ' +
  'amlodipine 5 mg, atorvastatine 20 mg. Tension artérielle au cabinet 148/92 mmHg. ECG de repos sans ' +
  'anomalie. Demande de bilan lipidique, Holter ECG sur 24 h et avis cardiologique. Reassess in two ' +
  'weeks; patient advised to call emergency services if pain worsens or persists at rest. ';

const meta = (i: number): EventMeta => ({
  actor: { id: `doc-${i % 250}`, type: 'doctor' },
  service: 'appointment-service',
});

/** The topics the rows publish to: one catalog topic per row so each row reads exactly what it wrote. */
export const BENCH_TOPICS = {
  producer: TOPICS.APPOINTMENT_REQUESTED,
  consumer: TOPICS.CONSULTATION_CREATED,
  latency: TOPICS.APPOINTMENT_CANCELLED,
} as const;
export type BenchTopic = (typeof BENCH_TOPICS)[keyof typeof BENCH_TOPICS];

const builders: { [T in BenchTopic]: (i: number, note: string) => PayloadOf<T> } = {
  [TOPICS.APPOINTMENT_REQUESTED]: (i, note) => ({
    appointmentId: `apt-${randomUUID()}`,
    patientId: `pat-${i % 5000}`,
    doctorId: `doc-${i % 250}`,
    appointmentDate: '2026-12-01',
    appointmentTime: '09:30',
    reason: note,
  }),
  [TOPICS.CONSULTATION_CREATED]: (i, note) => ({
    consultationId: `cons-${randomUUID()}`,
    appointmentId: `apt-${randomUUID()}`,
    patientId: `pat-${i % 5000}`,
    doctorId: `doc-${i % 250}`,
    consultationDate: '2026-12-01',
    diagnosis: note,
    status: 'final',
  }),
  [TOPICS.APPOINTMENT_CANCELLED]: (i, note) => ({
    appointmentId: `apt-${randomUUID()}`,
    patientId: `pat-${i % 5000}`,
    doctorId: `doc-${i % 250}`,
    cancelledBy: 'patient',
    reason: note,
  }),
};

const notes = new Map<BenchTopic, string>();

/** The note length that brings this topic's encoded value to ~TARGET_VALUE_BYTES (computed once). */
const noteFor = (topic: BenchTopic): string => {
  let note = notes.get(topic);
  if (note === undefined) {
    const probe = encodeEvent(topic, builders[topic](0, '') as PayloadOf<typeof topic>, meta(0));
    const room = Math.max(0, TARGET_VALUE_BYTES - Buffer.byteLength(probe.value));
    const chars: string[] = [];
    let bytes = 0;
    for (const ch of NOTE.repeat(Math.ceil(room / NOTE.length) + 1)) {
      const size = Buffer.byteLength(ch);
      if (bytes + size > room) break;
      chars.push(ch);
      bytes += size;
    }
    note = chars.join('');
    notes.set(topic, note);
  }
  return note;
};

export const payloadFor = <T extends BenchTopic>(topic: T, i: number): PayloadOf<T> =>
  builders[topic](i, noteFor(topic)) as PayloadOf<T>;

export const metaFor = meta;

/** A fully encoded event (what `publish` would send), for the raw peers and for pre-filling topics. */
export const encodedFor = (topic: BenchTopic, i: number): EncodedEvent =>
  encodeEvent(topic, payloadFor(topic, i), meta(i));

/** The kafkajs message for an encoded event, as the producer layer builds it. */
export const toMessage = (e: EncodedEvent) => ({
  key: e.key,
  value: e.value,
  headers: e.headers,
  timestamp: e.timestamp,
});
