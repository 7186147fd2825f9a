import { describe, expect, it } from 'vitest';
import { toResponse } from '../../../functions/health/health.ts';

describe('health response', () => {
  it('answers 200 with the health JSON when Kafka is healthy', () => {
    const health = { status: 'healthy', kafka: { connected: true, brokers: 3, topics: 33 } } as const;

    const response = toResponse(health);

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? '')).toEqual(health);
  });

  it('answers 500 with the error when Kafka is unhealthy', () => {
    const response = toResponse({ status: 'unhealthy', error: 'Kafka did not answer within 5000 ms' });

    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body ?? '')).toEqual({
      status: 'unhealthy',
      error: 'Kafka did not answer within 5000 ms',
    });
  });
});
