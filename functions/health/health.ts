import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { checkKafkaHealth, type HealthOptions, type KafkaHealth } from '../../shared/kafka/health.ts';

/**
 * The seed's `GET /health/kafka` as a function URL answer: 200 with the health JSON when Kafka answers,
 * 500 with `{ status: 'unhealthy', error }` when it does not (the function URL payload format 2.0:
 * https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html).
 */
export const toResponse = (health: KafkaHealth): APIGatewayProxyStructuredResultV2 => ({
  statusCode: health.status === 'healthy' ? 200 : 500,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(health),
});

export const kafkaHealthResponse = async (
  options?: HealthOptions,
): Promise<APIGatewayProxyStructuredResultV2> => toResponse(await checkKafkaHealth(options));
