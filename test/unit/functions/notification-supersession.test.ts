import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Contact } from '../../../functions/notification/contacts.ts';
import { deliverNotice, type NotifyDeps, supersessionKey } from '../../../functions/notification/notify.ts';
import { noticesFor } from '../../../functions/notification/rules.ts';
import {
  type BusEvent,
  encodeEvent,
  type PayloadOf,
  TOPICS,
  type Topic,
} from '../../../shared/events/index.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

/**
 * The supersession rule of deliverNotice. The deliveries table (functions/notification/deliveries.ts) is
 * outside the unit: an in-memory table with the same conditions stands in for it here; the DynamoDB writes
 * themselves are exercised on dynalite in test/integration/functions/functions.test.ts.
 */
const table = vi.hoisted(() => new Map<string, { status?: string; token?: string; newestAt?: number }>());

vi.mock('../../../functions/notification/deliveries.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../functions/notification/deliveries.ts')>();
  let n = 0;
  return {
    ...real,
    claimDelivery: async (id: string) => {
      const row = table.get(id);
      if (row?.status === 'sending') return { state: 'busy' };
      if (row?.status) return { state: row.status };
      const token = `t-${++n}`;
      table.set(id, { status: 'sending', token });
      return { state: 'claimed', token, takeover: false };
    },
    markSent: async (id: string) => void table.set(id, { ...table.get(id), status: 'sent' }),
    markPublished: async (id: string) => void table.set(id, { ...table.get(id), status: 'published' }),
    markSuperseded: async (id: string) => void table.set(id, { ...table.get(id), status: 'published' }),
    releaseClaim: async (id: string) => void table.delete(id),
    recordNewest: async (key: string, at: number) => {
      const newest = table.get(key)?.newestAt;
      if (newest !== undefined && newest > at) return false;
      table.set(key, { newestAt: at });
      return true;
    },
  };
});

const at = (topic: Topic, payload: object, timestamp: number): BusEvent =>
  encodeEvent(topic, { ...samplePayloads[topic], ...payload } as PayloadOf<Topic>, sampleMeta({ timestamp }))
    .event;

const appointment = (id: string) => ({
  confirmed: at(TOPICS.APPOINTMENT_CONFIRMED, { appointmentId: id }, 2_000),
  cancelled: at(TOPICS.APPOINTMENT_CANCELLED, { appointmentId: id }, 3_000),
  requested: at(TOPICS.APPOINTMENT_REQUESTED, { appointmentId: id }, 1_000),
});

describe('notification supersession', () => {
  const emails: string[] = [];
  const inbox: { template: string; superseded?: boolean }[] = [];
  const announced: { template: string; channel: string }[] = [];
  const deps: NotifyDeps = {
    publisher: {
      publish: (async (_topic: string, payload: { template: string; channel: string }) => {
        announced.push({ template: payload.template, channel: payload.channel });
        return { eventId: 'x' };
      }) as never,
    },
    sendEmail: async (to, message) => {
      emails.push(`${to}: ${message.subject}`);
      return 'm';
    },
    putInboxItem: async (item) => void inbox.push(item),
    getContact: async (userId): Promise<Contact> =>
      ({ userId, email: `${userId}@example.org`, language: 'en' }) as Contact,
  };
  const handle = async (event: BusEvent) => {
    for (const notice of noticesFor(event)) await deliverNotice(event, notice, deps);
  };

  beforeEach(() => {
    table.clear();
    emails.length = 0;
    inbox.length = 0;
    announced.length = 0;
  });

  it('sends no "confirmed" e-mail once "cancelled" was notified, writes the in-app item flagged and announces it', async () => {
    const { confirmed, cancelled } = appointment('a-late');

    await handle(cancelled);
    await handle(confirmed);
    await handle(confirmed);

    expect(emails).toEqual(['p-1@example.org: Appointment cancelled']);
    expect(inbox.map((i) => [i.template, i.superseded ?? false])).toEqual([
      ['appointment.cancelled', false],
      ['appointment.confirmed', true],
    ]);
    expect(announced.filter((a) => a.template === 'appointment.confirmed')).toEqual([
      { template: 'appointment.confirmed', channel: 'in_app' },
    ]);
  });

  it('sends both e-mails, once each, when the events are handled in publish order', async () => {
    const { confirmed, cancelled } = appointment('a-in-order');

    for (const event of [confirmed, confirmed, cancelled, cancelled]) await handle(event);

    expect(emails).toEqual([
      'p-1@example.org: Appointment confirmed',
      'p-1@example.org: Appointment cancelled',
    ]);
    expect(inbox.some((i) => i.superseded)).toBe(false);
    expect(announced).toHaveLength(4);
  });

  it('still e-mails a recipient who heard nothing newer (the doctor of a late "requested")', async () => {
    const { requested, cancelled } = appointment('a-doctor');

    await handle(cancelled);
    await handle(requested);

    expect(emails).toEqual([
      'p-1@example.org: Appointment cancelled',
      'd-1@example.org: New appointment request',
    ]);
  });

  it('decides again when the e-mail is claimed: a newer event handled meanwhile stops the older e-mail', async () => {
    const { confirmed, cancelled } = appointment('a-between');
    const putInboxItem = deps.putInboxItem;
    let once = true;
    deps.putInboxItem = async (item) => {
      await putInboxItem(item);
      if (once && item.template === 'appointment.confirmed') {
        once = false;
        await handle(cancelled);
      }
    };

    try {
      await handle(confirmed);
    } finally {
      deps.putInboxItem = putInboxItem;
    }

    expect(emails).toEqual(['p-1@example.org: Appointment cancelled']);
  });

  it('keys the rule by the catalog resource: one appointment, one referral, per recipient', () => {
    const a = appointment('a-1');
    const referralCreated = at(TOPICS.REFERRAL_CREATED, { referralId: 'r-7' }, 1);
    const referralCancelled = at(TOPICS.REFERRAL_CANCELLED, { referralId: 'r-7' }, 2);
    const booked = at(TOPICS.REFERRAL_BOOKED, { appointmentId: 'a-1' }, 3);

    expect(supersessionKey(a.confirmed, 'p-1')).toBe(supersessionKey(a.cancelled, 'p-1'));
    expect(supersessionKey(booked, 'p-1')).toBe(supersessionKey(a.cancelled, 'p-1'));
    expect(supersessionKey(referralCreated, 'p-1')).toBe(supersessionKey(referralCancelled, 'p-1'));
    expect(supersessionKey(a.confirmed, 'p-1')).not.toBe(
      supersessionKey(appointment('a-2').confirmed, 'p-1'),
    );
    expect(supersessionKey(a.confirmed, 'p-1')).not.toBe(supersessionKey(a.confirmed, 'd-1'));
    expect(supersessionKey(referralCreated, 'p-1')).not.toBe(supersessionKey(a.confirmed, 'p-1'));
  });
});
