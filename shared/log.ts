import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured JSON logger for the bus (Powertools). Call sites log topic, eventId, partition, offset
 * and error class/code only — never payload values, never error messages built from payloads.
 */
export const logger = new Logger({ serviceName: process.env.SERVICE_NAME ?? 'esante-event-bus' });
