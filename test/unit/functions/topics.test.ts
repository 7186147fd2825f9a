import { describe, expect, it } from 'vitest';
import { AUDIT_TOPICS } from '../../../functions/audit/topics.ts';
import { CONSULTATION_DRAFTS_TOPICS } from '../../../functions/consultation-drafts/topics.ts';
import { NOTIFICATION_TOPICS } from '../../../functions/notification/topics.ts';
import { CONSUMERS } from '../../../infra/consumers.ts';
import { REPO_ROOT } from '../../../infra/local/kafka/jvm.ts';
import { ConfigError } from '../../../shared/errors.ts';
import { TOPICS } from '../../../shared/events/index.ts';
import { missingHandlers, mskConsumer, type TopicHandlers } from '../../../shared/lambda/consumer.ts';

/** Each function owns its topic list (functions/<name>/topics.ts); infra/consumers.ts subscribes it to that. */
const OWN_TOPICS: Record<string, readonly string[]> = {
  audit: AUDIT_TOPICS,
  notification: NOTIFICATION_TOPICS,
  'consultation-drafts': CONSULTATION_DRAFTS_TOPICS,
};

describe('consumer topics', () => {
  it.each(CONSUMERS.map((c) => [c.name, c] as const))(
    '%s is subscribed to its own topic list, and handles every topic of it',
    async (name, consumer) => {
      // Prepare: the handler module the emulator and the CDK bundle load.
      const module = (await import(`${REPO_ROOT}/${consumer.entry}`)) as { handlers?: TopicHandlers };
      // Assess
      expect(consumer.topics).toBe(OWN_TOPICS[name]);
      expect(consumer.topics.length).toBeGreaterThan(0);
      expect(module.handlers).toBeDefined();
      expect(missingHandlers(consumer.topics, module.handlers ?? {})).toEqual([]);
    },
  );

  it('lists the topics a handler map lacks', () => {
    const handlers: TopicHandlers = { [TOPICS.APPOINTMENT_COMPLETED]: () => undefined };
    expect(missingHandlers([TOPICS.APPOINTMENT_COMPLETED, TOPICS.USER_REGISTERED], handlers)).toEqual([
      TOPICS.USER_REGISTERED,
    ]);
  });

  it('refuses to build a function subscribed to a topic it has no handler for', () => {
    const build = () =>
      mskConsumer({
        name: 'half-done',
        topics: [TOPICS.APPOINTMENT_COMPLETED, TOPICS.USER_REGISTERED],
        handlers: { [TOPICS.APPOINTMENT_COMPLETED]: () => undefined },
      });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(`Function half-done has no handler for its topic(s): ${TOPICS.USER_REGISTERED}`);
  });
});
