import { describe, expect, it } from 'vitest';
import { CATALOG, catalogTopics, DLQ_TOPIC, TOPICS, topicSpecs } from '../../../shared/events/index.ts';
import { samplePayloads } from '../../fixtures/events.ts';

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
  it('holds exactly the seed topics under the seed constant names', () => {
    expect(Object.values(TOPICS).sort()).toEqual([...SEED_TOPICS].sort());
    expect(catalogTopics().sort()).toEqual([...SEED_TOPICS].sort());
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

  it('marks clinical content as PHI', () => {
    expect(CATALOG[TOPICS.CONSULTATION_CREATED].phi).toContain('diagnosis');
    expect(CATALOG[TOPICS.PRESCRIPTION_CREATED].phi).toContain('medications');
    expect(CATALOG[TOPICS.USER_REGISTERED].phi).toContain('email');
  });

  it('provisions every catalog topic plus the dead-letter topic', () => {
    const specs = topicSpecs();
    expect(specs.map((s) => s.topic).sort()).toEqual([...SEED_TOPICS, DLQ_TOPIC].sort());
    expect(specs.find((s) => s.topic === DLQ_TOPIC)?.retentionMs).toBe(14 * 86_400_000);
  });
});
