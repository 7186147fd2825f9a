import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditKey } from '../../functions/audit/audit.ts';
import { type LocalAws, sentEmails, startLocalAws } from '../../infra/local/aws/index.ts';
import { freePort } from '../../infra/local/kafka/free-port.ts';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { TABLES } from '../../infra/resources.ts';
import { encodeEvent } from '../../shared/events/envelope.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import { provisionTopics } from '../../shared/kafka/admin.ts';
import { createKafka } from '../../shared/kafka/config.ts';
import { awsClientConfig } from '../../shared/lambda/clients.ts';
import { type MskEvent, toMskEvent } from '../../shared/lambda/msk-event.ts';

const FIXTURE = join(REPO_ROOT, 'test/fixtures/aws/msk-appointment-requested.json');

/**
 * `npm run invoke -- <function> <event.json>` as a user runs it (a child process), on real-shaped MSK event
 * files, against local DynamoDB and SES servers and the run's broker.
 */
describe('npm run invoke', () => {
  let aws: LocalAws;
  let dir: string;

  const invoke = (fn: string, file: string, env: NodeJS.ProcessEnv = { ...process.env, ...aws.env }) =>
    new Promise<{ code: number | null; response: unknown }>((done) => {
      const child = spawn(
        join(REPO_ROOT, 'node_modules/.bin/node'),
        ['--import', 'tsx', 'infra/local/invoke.ts', fn, file],
        { cwd: REPO_ROOT, env },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.on('close', (code) => {
        const last = out.trim().split('\n').pop() ?? 'null';
        done({ code, response: JSON.parse(last) });
      });
    });

  beforeAll(async () => {
    aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
    await provisionTopics(await createKafka());
    dir = await mkdtemp(join(tmpdir(), 'invoke-'));
  });
  afterAll(async () => {
    await aws?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints the handler response for an MSK event file, once per delivery, idempotently', async () => {
    // Prepare: the doctor's registration (the notification contact projection), as an MSK event file.
    const fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as MskEvent;
    const [requested] = Object.values(fixture.records).flat();
    const doctorId = 'doc-fixture-1';
    const email = `${doctorId}@example.org`;
    const registered = encodeEvent(
      TOPICS.USER_REGISTERED,
      { userId: doctorId, email, role: 'doctor', firstName: 'Fixture', language: 'en' },
      { actor: { id: doctorId, type: 'doctor' }, service: 'auth-service' },
    );
    const registration = toMskEvent(
      [
        {
          topic: TOPICS.USER_REGISTERED,
          partition: 0,
          offset: '7',
          timestamp: registered.timestamp,
          key: Buffer.from(registered.key),
          value: Buffer.from(registered.value),
          headers: Object.fromEntries(
            Object.entries(registered.headers).map(([k, v]) => [k, Buffer.from(v)]),
          ),
        },
      ],
      { eventSourceArn: fixture.eventSourceArn, bootstrapServers: fixture.bootstrapServers ?? '' },
    );
    const registrationFile = join(dir, 'registered.json');
    await writeFile(registrationFile, JSON.stringify(registration));
    // Act
    const contact = await invoke('notification', registrationFile);
    const audits = [await invoke('audit', FIXTURE), await invoke('audit', FIXTURE)];
    const notifications = [await invoke('notification', FIXTURE), await invoke('notification', FIXTURE)];
    // Assess
    for (const result of [contact, ...audits, ...notifications]) {
      expect(result).toEqual({ code: 0, response: { batchItemFailures: [] } });
    }
    const eventId = JSON.parse(Buffer.from(requested?.value ?? '', 'base64').toString()).eventId as string;
    const db = DynamoDBDocumentClient.from(new DynamoDBClient(awsClientConfig('dynamodb', aws.env)));
    const entry = await db.send(new GetCommand({ TableName: TABLES.audit.name, Key: auditKey(eventId) }));
    expect(entry.Item?.eventId).toBe(eventId);
    expect(await sentEmails(aws.env.SES_ENDPOINT ?? '', email)).toHaveLength(1);
  });

  it('fails at once, naming what is missing and how to start it, when the local stack is not running', async () => {
    // Prepare: endpoints where nothing listens (free ports), as when `npm start` is not running.
    const kafka = `127.0.0.1:${await freePort()}`;
    const dynamo = `http://127.0.0.1:${await freePort()}`;
    const env = {
      ...process.env,
      KAFKA_BROKERS: kafka,
      DYNAMODB_ENDPOINT: dynamo,
      AUDIT_TABLE: 'esante-audit',
    };
    // Act
    const result = await invoke('audit', FIXTURE, env);
    // Assess: a typed error before any record is tried (not batch item failures after the retries).
    expect(result).toMatchObject({ code: 1, response: { errorType: 'ConfigError' } });
    const { errorMessage } = result.response as { errorMessage: string };
    expect(errorMessage).toContain(`Kafka: nothing answers at ${kafka} (KAFKA_BROKERS)`);
    expect(errorMessage).toContain(`DynamoDB: nothing answers at ${dynamo} (DYNAMODB_ENDPOINT)`);
    expect(errorMessage).toContain('`npm start`');
  });

  it('fails with a typed error for an unknown function', async () => {
    // Act
    const result = await invoke('no-such-function', FIXTURE);
    // Assess
    expect(result).toEqual({
      code: 1,
      response: { errorType: 'Error', errorMessage: 'Unknown function "no-such-function"' },
    });
  });
});
