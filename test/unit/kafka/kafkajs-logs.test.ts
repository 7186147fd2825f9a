import { logLevel } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readConfig, toKafkaConfig } from '../../../shared/kafka/config.ts';
import { logger } from '../../../shared/log.ts';

/** The kafkajs log creator of the bus's client config, as kafkajs calls it. */
const emit = (level: number, namespace: string, log: Record<string, unknown>) => {
  const create = toKafkaConfig(readConfig({}), ['127.0.0.1:1']).logCreator;
  if (!create) throw new Error('the client config has no logCreator');
  create(level)({ namespace, level, label: 'ERROR', log: { timestamp: '', message: '', ...log } as never });
};

describe('kafkajs log lines', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('logs a retriable broker answer kafkajs retries (not leader, coordinator loading) at debug', () => {
    const error = vi.spyOn(logger, 'error');
    const debug = vi.spyOn(logger, 'debug');
    for (const answer of [
      'This server is not the leader for that topic-partition',
      "The coordinator is loading and hence can't process requests for this group",
      'The group coordinator is not available',
    ]) {
      emit(logLevel.ERROR, 'Connection', {
        message: 'Response ListOffsets(key: 2, version: 3)',
        error: answer,
      });
    }
    expect(error).not.toHaveBeenCalled();
    expect(debug).toHaveBeenCalledTimes(3);
  });

  it('keeps a broker answer nobody retries, and any other kafkajs error, at error', () => {
    const error = vi.spyOn(logger, 'error');
    emit(logLevel.ERROR, 'Connection', {
      message: 'Response Produce(key: 0, version: 7)',
      error: 'Not authorized to access topics: [Topic authorization failed]',
    });
    emit(logLevel.ERROR, 'Consumer', { message: 'Crash: KafkaJSNonRetriableError: boom' });
    expect(error).toHaveBeenCalledTimes(2);
    expect(error.mock.calls[0]?.[0]).toBe('kafkajs: Response Produce(key: 0, version: 7)');
  });
});
