import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { injectLambdaContext, middy } from '../../shared/lambda/middy.ts';
import { logger } from '../../shared/log.ts';
import { kafkaHealthResponse } from './health.ts';

export const handler = middy<unknown, APIGatewayProxyStructuredResultV2, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(() => kafkaHealthResponse());
