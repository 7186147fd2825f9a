import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * patches/kafkajs+2.2.4.patch (applied by `npm ci` through patch-package): kafkajs 2.2.4 schedules a
 * "pending requests" check with a negative delay whenever its queue is empty and unthrottled — Node 24 prints
 * TimeoutNegativeWarning, and the 1 ms timer re-arms itself for as long as the connection lives
 * (tulios/kafkajs#1751, unreleased upstream).
 */
type Queue = {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  scheduleCheckPendingRequests(): void;
};
const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (
  options: Record<string, unknown>,
) => Queue;
const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const queue = (): Queue =>
  new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1_000, clientId: 't', broker: 'b', logger });

describe('kafkajs request queue (patched)', () => {
  let made: Queue | undefined;
  afterEach(() => {
    if (made?.throttleCheckTimeoutId) clearTimeout(made.throttleCheckTimeoutId);
  });

  it('schedules no check when nothing is pending and nothing is throttled', () => {
    made = queue();
    made.scheduleCheckPendingRequests();
    expect(made.throttleCheckTimeoutId).toBeNull();
  });

  it('still schedules the check when requests wait behind a throttle', () => {
    made = queue();
    made.throttledUntil = Date.now() + 50;
    made.pending.push({});
    made.scheduleCheckPendingRequests();
    expect(made.throttleCheckTimeoutId).not.toBeNull();
  });
});
