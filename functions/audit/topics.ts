import { catalogTopics, type Topic } from '../../shared/events/catalog.ts';
import { TOPICS } from '../../shared/events/topics.ts';

/**
 * The topics the audit function reads (infra/consumers.ts subscribes it to these; its handler map covers
 * them): every service topic of the catalog, but not its own `audit.log.created` output.
 */
export const AUDIT_TOPICS: readonly Topic[] = catalogTopics().filter((t) => t !== TOPICS.AUDIT_LOG_CREATED);
