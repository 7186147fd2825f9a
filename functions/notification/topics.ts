import { TOPICS } from '../../shared/events/topics.ts';

/** Events that notify someone (rules.ts says who, with which template). */
export const NOTIFYING_TOPICS = [
  TOPICS.APPOINTMENT_REQUESTED,
  TOPICS.APPOINTMENT_CONFIRMED,
  TOPICS.APPOINTMENT_REJECTED,
  TOPICS.APPOINTMENT_CANCELLED,
  TOPICS.MESSAGE_SENT,
  TOPICS.REFERRAL_CREATED,
  TOPICS.REFERRAL_SCHEDULED,
  TOPICS.REFERRAL_ACCEPTED,
  TOPICS.REFERRAL_REJECTED,
  TOPICS.REFERRAL_COMPLETED,
  TOPICS.REFERRAL_CANCELLED,
  TOPICS.CONSULTATION_CREATED,
  TOPICS.PRESCRIPTION_CREATED,
  TOPICS.DOCUMENT_UPLOADED,
] as const;

/** Events that keep the contact projection (e-mail address, language) up to date. */
export const CONTACT_TOPICS = [TOPICS.USER_REGISTERED, TOPICS.PROFILE_UPDATED] as const;

/**
 * The topics the notification function reads (infra/consumers.ts subscribes it to these; its handler map
 * must cover each one, which the handler's type and a test check).
 */
export const NOTIFICATION_TOPICS = [...CONTACT_TOPICS, ...NOTIFYING_TOPICS] as const;
