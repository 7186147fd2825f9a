import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { checkKafkaHealth, type HealthOptions, type KafkaHealth } from '../../shared/kafka/health.ts';
import { CONSUMER_FUNCTIONS_ENV, mappingConsumers } from './mappings.ts';

/**
 * The seed's `GET /health/kafka` as a function URL answer: 200 with the health JSON when Kafka and every
 * consumer are healthy, 500 with `{ status: 'unhealthy', error, ... }` otherwise (the function URL payload
 * format 2.0: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html).
 */
export const toResponse = (health: KafkaHealth): APIGatewayProxyStructuredResultV2 => ({
  statusCode: health.status === 'healthy' ? 200 : 500,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(health),
});

/**
 * On AWS (HEALTH_CONSUMER_FUNCTIONS set) the consumers are the functions' event-source mappings; locally
 * (`npm start`) they are the consumers running in this process.
 */
const consumersFrom = (env: NodeJS.ProcessEnv): HealthOptions['consumers'] => {
  const functions = (env[CONSUMER_FUNCTIONS_ENV] ?? '').split(',').filter(Boolean);
  return functions.length ? mappingConsumers({ functions }) : undefined;
};

export const kafkaHealthResponse = async (
  options: HealthOptions = {},
): Promise<APIGatewayProxyStructuredResultV2> =>
  toResponse(
    await checkKafkaHealth({
      ...options,
      consumers: options.consumers ?? consumersFrom(options.env ?? process.env),
    }),
  );
