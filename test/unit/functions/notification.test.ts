import { describe, expect, it } from 'vitest';
import { mergeContact } from '../../../functions/notification/contacts.ts';
import { NOTIFYING_TOPICS, noticesFor } from '../../../functions/notification/rules.ts';
import { LANGUAGES, render, TEMPLATE_NAMES } from '../../../functions/notification/templates.ts';
import { type BusEvent, encodeEvent, TOPICS, type Topic } from '../../../shared/events/index.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';

const eventOf = <T extends Topic>(topic: T): BusEvent =>
  encodeEvent(topic, samplePayloads[topic], sampleMeta()).event;

describe('notification rules', () => {
  it.each([
    [TOPICS.APPOINTMENT_REQUESTED, ['d-1']],
    [TOPICS.APPOINTMENT_CONFIRMED, ['p-1']],
    [TOPICS.APPOINTMENT_REJECTED, ['p-1']],
    [TOPICS.APPOINTMENT_CANCELLED, ['p-1']],
    [TOPICS.MESSAGE_SENT, ['d-1']],
    [TOPICS.REFERRAL_CREATED, ['p-1', 'd-1', 'd-2']],
    [TOPICS.REFERRAL_CANCELLED, ['p-1', 'd-1']],
    [TOPICS.CONSULTATION_CREATED, ['p-1']],
    [TOPICS.PRESCRIPTION_CREATED, ['p-1']],
    [TOPICS.DOCUMENT_UPLOADED, ['p-1']],
    [TOPICS.USER_REGISTERED, []],
    [TOPICS.APPOINTMENT_COMPLETED, []],
  ] as const)('%s notifies %j', (topic, recipients) => {
    expect(noticesFor(eventOf(topic)).map((n) => n.recipientId)).toEqual(recipients);
  });

  it('notifies a doctor who is both referrer and specialist once', () => {
    const event = encodeEvent(
      TOPICS.REFERRAL_ACCEPTED,
      { referralId: 'r-9', patientId: 'p-1', referringDoctorId: 'd-1', specialistId: 'd-1' },
      sampleMeta(),
    ).event;

    expect(noticesFor(event).map((n) => n.recipientId)).toEqual(['p-1', 'd-1']);
  });
});

describe('notification templates', () => {
  it('renders every template in French and English without any PHI value of any event', () => {
    // Prepare: every notice of every notifying topic, rendered in both languages
    const rendered = NOTIFYING_TOPICS.flatMap((topic) =>
      noticesFor(eventOf(topic)).flatMap((n) => LANGUAGES.map((lang) => render(n.template, lang, n.vars))),
    );
    const phiValues = Object.values(samplePayloads)
      .flatMap((p) => Object.values(p as Record<string, unknown>))
      .flatMap((v) => (typeof v === 'string' ? [v] : JSON.stringify(v) ? [JSON.stringify(v)] : []))
      .filter((v) => v.toLowerCase().includes(PHI_MARKER.toLowerCase()));

    // Assess
    expect(rendered.length).toBeGreaterThan(20);
    const text = rendered
      .map((r) => `${r.subject}\n${r.body}`)
      .join('\n')
      .toLowerCase();
    expect(text).not.toContain(PHI_MARKER.toLowerCase());
    for (const value of phiValues) expect(text).not.toContain(value.toLowerCase());
    for (const clinical of ['chest pain', 'hypertension', 'amlodipine', 'cardiology', 'diagnos']) {
      expect(text).not.toContain(clinical);
    }
  });

  it('shows the appointment date and time in the recipient language', () => {
    expect(render('appointment.confirmed', 'fr', { date: '2026-12-01', time: '09:30' }).body).toContain(
      'du 2026-12-01 à 09:30',
    );
    expect(render('appointment.confirmed', 'en', {}).body).toBe(
      'Your appointment is confirmed. Details are in e-santé.',
    );
  });

  it('refuses a variable outside the date/time allow-list', () => {
    expect(() => render('message.received', 'en', { reason: 'x' } as never)).toThrow();
  });

  it('has French and English for every template', () => {
    for (const name of TEMPLATE_NAMES)
      for (const lang of LANGUAGES) expect(render(name, lang).subject).not.toBe('');
  });
});

describe('contact projection merge', () => {
  it('keeps the newest value per field whatever the order events arrive in', () => {
    const registered = mergeContact(undefined, 'u-1', { email: 'old@example.org', language: 'fr' }, 100);
    const updatedFirst = mergeContact(undefined, 'u-1', { email: 'new@example.org' }, 200);

    const late = mergeContact(updatedFirst, 'u-1', { email: 'old@example.org', language: 'fr' }, 100);

    expect(registered).toMatchObject({ email: 'old@example.org', version: 1 });
    expect(late).toMatchObject({ email: 'new@example.org', language: 'fr', version: 2 });
    expect(mergeContact(late, 'u-1', { email: 'new@example.org' }, 200)).toBeUndefined();
  });
});
