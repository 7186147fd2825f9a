/**
 * Topic names, under the seed's constant names. `{service}.{entity}.{action}`; the convention is
 * enforced by test/unit/events/catalog.test.ts. The catalog (catalog.ts) holds everything else per topic.
 */
export const TOPICS = {
  // Auth Service
  USER_REGISTERED: 'auth.user.registered',
  USER_VERIFIED: 'auth.user.verified',
  USER_LOGGED_IN: 'auth.user.logged_in',
  USER_LOGGED_OUT: 'auth.user.logged_out',
  PASSWORD_RESET: 'auth.user.password_reset',

  // User Service
  PROFILE_UPDATED: 'user.profile.updated',
  PHOTO_UPDATED: 'user.photo.updated',

  // Appointment Service
  APPOINTMENT_REQUESTED: 'appointment.appointment.requested',
  APPOINTMENT_CONFIRMED: 'appointment.appointment.confirmed',
  APPOINTMENT_REJECTED: 'appointment.appointment.rejected',
  APPOINTMENT_CANCELLED: 'appointment.appointment.cancelled',
  APPOINTMENT_COMPLETED: 'appointment.appointment.completed',
  REFERRAL_BOOKED: 'appointment.appointment.referral_booked',

  // Medical Records Service
  CONSULTATION_CREATED: 'medical.consultation.created',
  CONSULTATION_UPDATED: 'medical.consultation.updated',
  CONSULTATION_ACCESSED: 'medical.consultation.accessed',
  PRESCRIPTION_CREATED: 'medical.prescription.created',
  PRESCRIPTION_UPDATED: 'medical.prescription.updated',
  PRESCRIPTION_LOCKED: 'medical.prescription.locked',
  DOCUMENT_UPLOADED: 'medical.document.uploaded',
  DOCUMENT_ACCESSED: 'medical.document.accessed',
  DOCUMENT_DELETED: 'medical.document.deleted',

  // Referral Service
  REFERRAL_CREATED: 'referral.referral.created',
  REFERRAL_SCHEDULED: 'referral.referral.scheduled',
  REFERRAL_ACCEPTED: 'referral.referral.accepted',
  REFERRAL_REJECTED: 'referral.referral.rejected',
  REFERRAL_COMPLETED: 'referral.referral.completed',
  REFERRAL_CANCELLED: 'referral.referral.cancelled',

  // Messaging Service
  MESSAGE_SENT: 'message.message.sent',
  MESSAGE_DELIVERED: 'message.message.delivered',
  MESSAGE_READ: 'message.message.read',

  // Notification Service
  NOTIFICATION_SENT: 'notification.notification.sent',

  // Audit Service
  AUDIT_LOG_CREATED: 'audit.log.created',

  // Operator console
  PHI_REVEALED: 'ops.phi.revealed',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** Where records that can never be processed go, with their original bytes and the reason. */
export const DLQ_TOPIC = 'esante.dlq';
