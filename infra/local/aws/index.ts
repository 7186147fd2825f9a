import { ENDPOINT_ENV, LOCAL_REGION } from '../../../shared/lambda/clients.ts';
import { AUDIT_ANCHOR, DEAD_LETTER_QUEUE, EMAIL, TABLES } from '../../resources.ts';
import { freePort } from '../kafka/free-port.ts';
import { startVersitygw } from '../s3/versitygw.ts';
import { startElasticMq } from '../sqs/elasticmq.ts';
import { provisionAws } from './provision.ts';
import { type LocalServer, startDynalite, startSes } from './servers.ts';

export { provisionAws } from './provision.ts';
export { type StoredEmail, sentEmails, startDynalite, startSes } from './servers.ts';

export interface LocalAwsOptions {
  /** 0 = a free port. Defaults: dynalite's 4567, aws-ses-v2-local's 8005, ElasticMQ's 9324. */
  dynamoPort?: number;
  sesPort?: number;
  sqsPort?: number;
  /** Start ElasticMQ (a JVM; a few seconds). Default true; tests that need no SQS say false. */
  sqs?: boolean;
  /**
   * Start versitygw (S3 with Object Lock) and the audit anchor bucket. Default false: `npm start` and the
   * tests of the audit anchor say true. Its data lives in a throw-away folder, like dynalite's tables.
   */
  s3?: boolean;
  s3Port?: number;
  /** Existing endpoints to use instead of starting servers (default: DYNAMODB_ENDPOINT etc. from process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface LocalAws {
  /** Endpoints, dummy credentials, fixed region, table names, queue URL: what the functions read. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The local AWS side of the mirror: dynalite (DynamoDB), aws-ses-v2-local (SES), ElasticMQ (SQS) and, when
 * asked, versitygw (S3 with Object Lock), on 127.0.0.1, then provisioned from infra/resources.ts. An endpoint already given in the environment is
 * used as is (docker compose, a shared dev stack) and not started.
 */
export const startLocalAws = async (options: LocalAwsOptions = {}): Promise<LocalAws> => {
  const given = options.env ?? process.env;
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
  };
  const resolvePort = async (port: number | undefined, fallback: number) =>
    port === 0 ? freePort() : (port ?? fallback);
  try {
    const start = async (name: string, run: () => Promise<LocalServer>): Promise<string> => {
      const existing = given[name];
      if (existing) return existing;
      const server = await run();
      started.push(server);
      return server.endpoint;
    };
    const dynamoEndpoint = await start(ENDPOINT_ENV.dynamodb, () =>
      startDynalite({ port: options.dynamoPort ?? 4567 }),
    );
    const sesEndpoint = await start(ENDPOINT_ENV.ses, () => startSes({ port: options.sesPort ?? 8005 }));
    const sqsEndpoint =
      options.sqs === false
        ? undefined
        : await start(ENDPOINT_ENV.sqs, async () =>
            startElasticMq({ port: await resolvePort(options.sqsPort, 9324) }),
          );
    const s3Endpoint = options.s3
      ? await start(ENDPOINT_ENV.s3, async () =>
          startVersitygw({ port: await resolvePort(options.s3Port, 7070) }),
        )
      : undefined;
    const env: Record<string, string> = {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      [ENDPOINT_ENV.dynamodb]: dynamoEndpoint,
      [ENDPOINT_ENV.ses]: sesEndpoint,
      ...(sqsEndpoint ? { [ENDPOINT_ENV.sqs]: sqsEndpoint } : {}),
      ...(s3Endpoint
        ? {
            [ENDPOINT_ENV.s3]: s3Endpoint,
            [AUDIT_ANCHOR.env]: given[AUDIT_ANCHOR.env] || AUDIT_ANCHOR.bucket,
            [AUDIT_ANCHOR.retentionEnv]:
              given[AUDIT_ANCHOR.retentionEnv] || String(AUDIT_ANCHOR.retentionDays),
          }
        : {}),
      ...Object.fromEntries(Object.values(TABLES).map((t) => [t.env, t.name])),
      [EMAIL.fromEnv]: given[EMAIL.fromEnv] || EMAIL.defaultFrom,
    };
    const { queueUrl } = await provisionAws(env);
    if (queueUrl) env[DEAD_LETTER_QUEUE.env] = queueUrl;
    return { env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
