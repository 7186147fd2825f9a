import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DCLinter } from 'dclint';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../../infra/local/kafka/jvm.ts';
import { IMAGES, VERSIONS } from '../../../infra/versions.ts';
import { ENDPOINT_ENV } from '../../../shared/lambda/clients.ts';

/**
 * docker-compose.yml cannot be run here (no Docker), so it is checked as a file: the Compose schema and the
 * linter's errors (dclint), every image pinned to infra/versions.ts, the environment the bus service needs,
 * and a start order in which nothing waits on a service that cannot report health.
 */
const COMPOSE_PATH = join(REPO_ROOT, 'docker-compose.yml');

interface Service {
  image: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
}
const compose = parse(readFileSync(COMPOSE_PATH, 'utf8')) as { services: Record<string, Service> };
const services = compose.services;

describe('docker-compose.yml', () => {
  it('passes the Compose schema and dclint with no error or warning', () => {
    // Prepare: the ordering rules are style only (this file orders services by start-up, not alphabetically);
    // quotes are double, as Biome formats YAML.
    const linter = new DCLinter({
      rules: {
        'require-quotes-in-ports': [2, { quoteType: 'double' }],
        'services-alphabetical-order': 0,
        'service-keys-order': 0,
        'service-dependencies-alphabetical-order': 0,
      },
      quiet: false,
      debug: false,
      exclude: [],
    });
    // Act
    const [result] = linter.lintFiles([COMPOSE_PATH], false);
    // Assess
    expect(
      result?.messages.map(
        (m: { line: number; rule: string; message: string }) => `${m.line}: ${m.rule}: ${m.message}`,
      ),
    ).toEqual([]);
  });

  it('runs every service of infra/versions.ts IMAGES, each pinned to that exact image (never latest)', () => {
    // Assess
    expect(Object.keys(services).sort()).toEqual(Object.keys(IMAGES).sort());
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, name).toBe(IMAGES[name as keyof typeof IMAGES]);
      expect(service.image, name).toMatch(/:v?\d+\.\d+\.\d+(-[a-z]+)?$/);
    }
    expect(services['kafka-ui']?.image).toMatch(/^ghcr\.io\/kafbat\//);
  });

  it('gives the bus service the environment npm start needs to use the other services, not start its own', () => {
    // Prepare
    const bus = services.bus;
    const env = bus?.environment ?? {};
    const kafkaListeners = String(services.kafka?.environment?.KAFKA_ADVERTISED_LISTENERS);
    // Assess: every endpoint variable npm start reads, each naming a service of this file.
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['KAFKA_BROKERS', ...Object.values(ENDPOINT_ENV), 'HOST', 'PORT']),
    );
    expect(kafkaListeners.split(',')).toContain(`INTERNAL://${env.KAFKA_BROKERS}`);
    expect(env[ENDPOINT_ENV.dynamodb]).toBe('http://dynamodb:8000');
    expect(env[ENDPOINT_ENV.sqs]).toBe('http://elasticmq:9324');
    expect(env[ENDPOINT_ENV.ses]).toBe('http://ses:8005');
    expect(env[ENDPOINT_ENV.s3]).toBe('http://s3:7070');
    expect(env.KAFKA_REPLICATION_FACTOR).toBe(1);
    expect(bus?.command?.join(' ')).toMatch(/npm ci .*&& npm start -- --demo$/);
    expect(bus?.ports).toContain(`127.0.0.1:${env.PORT}:${env.PORT}`);
    expect(services.ses?.command).toContain(`aws-ses-v2-local@${VERSIONS.sesLocal}`);
    // The repository is mounted; its node_modules and .local (start.env names container hosts) are not shared.
    const targets = (bus?.volumes ?? []).map((v) => v.split(':')[1]);
    expect(targets).toEqual(expect.arrayContaining(['/app', '/app/node_modules', '/app/.local']));
  });

  it('starts the bus after its dependencies, waiting for health only where a service has a healthcheck', () => {
    // Prepare
    const dependsOn = services.bus?.depends_on ?? {};
    // Assess
    expect(Object.keys(dependsOn).sort()).toEqual(['dynamodb', 'elasticmq', 'kafka', 's3', 'ses']);
    for (const [name, service] of Object.entries(services))
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[dependency], `${name} → ${dependency}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(services[dependency]?.healthcheck, `${name} waits for ${dependency}'s health`).toBeDefined();
      }
    // Those without a healthcheck are covered by restarting the bus until they answer.
    expect(services.bus?.restart).toMatch(/^on-failure/);
    expect(services.bus?.healthcheck?.test.join(' ')).toContain(':3000/health/kafka');
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, service] of Object.entries(services))
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('.'))
          expect(existsSync(join(REPO_ROOT, source)), `${name}: ${source}`).toBe(true);
      }
  });
});

describe('infra/versions.ts', () => {
  const pom = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
  const property = (xml: string, name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];

  it('is what the Maven poms default to (so a hand-run mvn fetches the same jars)', () => {
    // Prepare
    const kafka = pom('infra/local/kafka/pom.xml');
    const sqs = pom('infra/local/sqs/pom.xml');
    // Assess
    expect(property(kafka, 'kafka.version')).toBe(VERSIONS.kafka);
    expect(property(kafka, 'log4j.version')).toBe(VERSIONS.log4j);
    expect(property(sqs, 'elasticmq.version')).toBe(VERSIONS.elasticmq);
    expect(kafka).toContain(`-Dkafka.version=${VERSIONS.kafka} -Dlog4j.version=${VERSIONS.log4j}`);
    expect(sqs).toContain(`-Delasticmq.version=${VERSIONS.elasticmq}`);
  });

  it('is what npm installs: the SES stand-in and the Node.js major of the scripts', () => {
    // Prepare
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string }>;
    };
    // Assess
    expect(lock.packages['node_modules/aws-ses-v2-local']?.version).toBe(VERSIONS.sesLocal);
    expect(VERSIONS.node.split('.')[0]).toBe(lock.packages['node_modules/node']?.version.split('.')[0]);
  });
});
