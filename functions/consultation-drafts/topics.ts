import { TOPICS } from '../../shared/events/topics.ts';

/** The topics the consultation-drafts function reads (infra/consumers.ts subscribes it to these). */
export const CONSULTATION_DRAFTS_TOPICS = [TOPICS.APPOINTMENT_COMPLETED] as const;
