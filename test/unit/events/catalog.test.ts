import { describe, expect, it } from 'vitest';
import {
  CATALOG,
  catalogTopics,
  DLQ_TOPIC,
  TOPICS,
  topicConfigStrings,
  topicSpecs,
} from '../../../shared/events/index.ts';
import { localTopicSpecs } from '../../../shared/kafka/admin.ts';
import { samplePayloads } from '../../fixtures/events.ts';

/** Topics the bus itself adds: the operator console's PHI reveals, audited like any access. */
const BUS_TOPICS = ['ops.phi.revealed'];

const SEED_TOPICS = [
  'auth.user.registered',
  'auth.user.verified',
  'auth.user.logged_in',
  'auth.user.logged_out',
  'auth.user.password_reset',
  'user.profile.updated',
  'user.photo.updated',
  'appointment.appointment.requested',
  'appointment.appointment.confirmed',
  'appointment.appointment.rejected',
  'appointment.appointment.cancelled',
  'appointment.appointment.completed',
  'appointment.appointment.referral_booked',
  'medical.consultation.created',
  'medical.consultation.updated',
  'medical.consultation.accessed',
  'medical.prescription.created',
  'medical.prescription.updated',
  'medical.prescription.locked',
  'medical.document.uploaded',
  'medical.document.accessed',
  'medical.document.deleted',
  'referral.referral.created',
  'referral.referral.scheduled',
  'referral.referral.accepted',
  'referral.referral.rejected',
  'referral.referral.completed',
  'referral.referral.cancelled',
  'message.message.sent',
  'message.message.delivered',
  'message.message.read',
  'notification.notification.sent',
  'audit.log.created',
];

describe('event catalog', () => {
  it('holds exactly the seed topics under the seed constant names, and those of the bus itself', () => {
    expect(Object.values(TOPICS).sort()).toEqual([...SEED_TOPICS, ...BUS_TOPICS].sort());
    expect(catalogTopics().sort()).toEqual([...SEED_TOPICS, ...BUS_TOPICS].sort());
    expect(TOPICS.USER_REGISTERED).toBe('auth.user.registered');
    expect(TOPICS.REFERRAL_BOOKED).toBe('appointment.appointment.referral_booked');
  });

  it.each(catalogTopics())('%s follows {service}.{entity}.{action}', (topic) => {
    expect(topic).toMatch(/^[a-z]+\.[a-z]+\.[a-z_]+$/);
  });

  it.each(catalogTopics())('%s has a key, PHI fields and a resource that are schema fields', (topic) => {
    const def = CATALOG[topic];
    const fields = Object.keys(def.schema.shape);
    expect(fields).toContain(def.key);
    expect(fields).toContain(def.resource.idField);
    for (const field of def.phi) expect(fields).toContain(field);
    if (def.patientField) expect(fields).toContain(def.patientField);
    expect(def.partitions).toBeGreaterThan(0);
    expect(def.retentionDays).toBeGreaterThan(0);
  });

  it.each(catalogTopics())('%s accepts its real-shaped sample payload', (topic) => {
    expect(CATALOG[topic].schema.safeParse(samplePayloads[topic]).success).toBe(true);
  });

  it('keeps every field the seed documents for its four schemas', () => {
    const fields = (t: keyof typeof CATALOG) => Object.keys(CATALOG[t].schema.shape);
    expect(fields(TOPICS.USER_REGISTERED)).toEqual(expect.arrayContaining(['userId', 'email', 'role']));
    expect(fields(TOPICS.APPOINTMENT_CONFIRMED)).toEqual(
      expect.arrayContaining([
        'appointmentId',
        'patientId',
        'doctorId',
        'appointmentDate',
        'appointmentTime',
      ]),
    );
    expect(fields(TOPICS.CONSULTATION_CREATED)).toEqual(
      expect.arrayContaining([
        'consultationId',
        'appointmentId',
        'patientId',
        'doctorId',
        'consultationDate',
        'diagnosis',
      ]),
    );
    expect(fields(TOPICS.MESSAGE_SENT)).toEqual(
      expect.arrayContaining(['messageId', 'conversationId', 'senderId', 'receiverId', 'messageType']),
    );
  });

  it('builds a topic payload schema once, on first read, and hands out that one instance after', () => {
    const first = CATALOG[TOPICS.APPOINTMENT_REQUESTED].schema;
    expect(CATALOG[TOPICS.APPOINTMENT_REQUESTED].schema).toBe(first);
    expect(CATALOG[TOPICS.APPOINTMENT_CONFIRMED].schema).not.toBe(first);
    expect(Object.keys(first.shape)).toContain('appointmentId');
  });

  it('marks clinical content as PHI', () => {
    expect(CATALOG[TOPICS.CONSULTATION_CREATED].phi).toContain('diagnosis');
    expect(CATALOG[TOPICS.PRESCRIPTION_CREATED].phi).toContain('medications');
    expect(CATALOG[TOPICS.USER_REGISTERED].phi).toContain('email');
  });

  it('provisions every catalog topic plus the dead-letter topic', () => {
    const specs = topicSpecs();
    expect(specs.map((s) => s.topic).sort()).toEqual([...SEED_TOPICS, ...BUS_TOPICS, DLQ_TOPIC].sort());
    expect(specs.find((s) => s.topic === DLQ_TOPIC)?.retentionMs).toBe(14 * 86_400_000);
  });

  it('gives each topic its retention in ms and only the DLQ a larger max.message.bytes', () => {
    // Act
    const specs = topicSpecs();
    const dlq = specs.find((s) => s.topic === DLQ_TOPIC);
    const audit = specs.find((s) => s.topic === TOPICS.AUDIT_LOG_CREATED);
    const login = specs.find((s) => s.topic === TOPICS.USER_LOGGED_IN);
    // Assess
    expect(dlq?.configs).toEqual({ 'retention.ms': 1_209_600_000, 'max.message.bytes': 8_388_608 });
    expect(audit?.configs).toEqual({ 'retention.ms': 2_592_000_000 });
    expect(login?.configs).toEqual({ 'retention.ms': 259_200_000 });
    for (const spec of specs) expect(spec.retentionMs).toBe(spec.configs['retention.ms']);
    expect(specs.filter((s) => s.configs['max.message.bytes'] !== undefined).map((s) => s.topic)).toEqual([
      DLQ_TOPIC,
    ]);
    expect(topicConfigStrings(dlq ?? { configs: { 'retention.ms': 0 } })).toEqual({
      'retention.ms': '1209600000',
      'max.message.bytes': '8388608',
    });
  });

  it('replicates 3 times on MSK and takes the local replication factor from KAFKA_REPLICATION_FACTOR', () => {
    // Act
    const msk = topicSpecs();
    const local = localTopicSpecs({});
    const two = localTopicSpecs({ KAFKA_REPLICATION_FACTOR: '2' });
    // Assess
    expect(new Set(msk.map((s) => s.replicationFactor))).toEqual(new Set([3]));
    expect(new Set(local.map((s) => s.replicationFactor))).toEqual(new Set([1]));
    expect(new Set(two.map((s) => s.replicationFactor))).toEqual(new Set([2]));
    expect(local.map(({ replicationFactor: _, ...rest }) => rest)).toEqual(
      msk.map(({ replicationFactor: _, ...rest }) => rest),
    );
    expect(() => localTopicSpecs({ KAFKA_REPLICATION_FACTOR: 'three' })).toThrow(
      /KAFKA_REPLICATION_FACTOR must be a positive integer, got "three"/,
    );
  });
});
