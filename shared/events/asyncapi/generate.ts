import * as z from 'zod';
import {
  acceptedVersions,
  CATALOG,
  catalogTopics,
  type Topic,
  type TopicSpec,
  topicSpecs,
} from '../catalog.ts';
import { envelopeSchema } from '../envelope.ts';
import { schemaPath } from '../schemas/json-schema.ts';
import { DLQ_TOPIC } from '../topics.ts';

/**
 * Builds the AsyncAPI 3.0 document from the catalog (https://www.asyncapi.com/docs/reference/specification/v3.0.0):
 * one channel per topic with its Kafka bindings (partitions, retention), one message per event with the
 * envelope + payload as JSON Schema (PHI fields marked `x-phi: true`), the Kafka key and the CloudEvents
 * headers, and one `send` operation per topic. Deterministic, so a test can tell a stale committed copy.
 */
const HEADERS = {
  type: 'object',
  required: ['event-type', 'content-type', 'ce_specversion', 'ce_id', 'ce_source', 'ce_type', 'ce_time'],
  properties: {
    'event-type': { type: 'string', description: 'The topic / event type' },
    'content-type': { type: 'string', const: 'application/json' },
    ce_specversion: { type: 'string', const: '1.0' },
    ce_id: { type: 'string', description: 'Same as eventId' },
    ce_source: { type: 'string', description: '/esante/<service>' },
    ce_type: { type: 'string', description: 'Same as eventType' },
    ce_time: { type: 'string', format: 'date-time' },
  },
} as const;

const channelId = (topic: string) => topic.replaceAll('.', '-');
const messageId = (topic: string) =>
  topic
    .split(/[._]/)
    .map((part, i) => (i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('');

/** The channel's Kafka binding, from the same topic specification the provisioners create. */
const kafkaBinding = (spec: TopicSpec) => ({
  topic: spec.topic,
  partitions: spec.partitions,
  replicas: spec.replicationFactor,
  topicConfiguration: { ...spec.configs },
  bindingVersion: '0.5.0',
});

const payloadSchema = (topic: Topic): Record<string, unknown> => {
  const definition = CATALOG[topic];
  const schema = z.toJSONSchema(definition.schema.extend(envelopeSchema.shape), {
    target: 'draft-7',
    io: 'input',
  }) as { properties: Record<string, Record<string, unknown>>; $schema?: string };
  delete schema.$schema;
  schema.properties.eventType = { type: 'string', const: topic };
  for (const field of definition.phi) {
    const property = schema.properties[field];
    if (property) property['x-phi'] = true;
  }
  return schema;
};

export const generateAsyncApi = (): Record<string, unknown> => {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const specs = new Map(topicSpecs().map((spec) => [spec.topic, spec]));
  const specOf = (topic: string): TopicSpec => {
    const spec = specs.get(topic);
    if (!spec) throw new Error(`No topic specification for ${topic}`);
    return spec;
  };
  for (const topic of catalogTopics()) {
    const definition = CATALOG[topic];
    const id = messageId(topic);
    messages[id] = {
      name: topic,
      title: topic,
      summary: definition.description,
      contentType: 'application/json',
      headers: HEADERS,
      payload: payloadSchema(topic),
      bindings: {
        kafka: {
          key: { type: 'string', description: `The ${definition.key} field` },
          bindingVersion: '0.5.0',
        },
      },
      'x-partition-key': definition.key,
      'x-phi-fields': [...definition.phi],
      'x-schema-version': definition.schemaVersion,
      'x-compatibility': definition.compatibility,
      // The released contract (npm run schemas): every version consumers accept, the last one published.
      'x-released-schemas': acceptedVersions(topic).map((version) => schemaPath(topic, version)),
    };
    channels[channelId(topic)] = {
      address: topic,
      description: definition.description,
      messages: { [id]: { $ref: `#/components/messages/${id}` } },
      bindings: { kafka: kafkaBinding(specOf(topic)) },
    };
    operations[`publish-${channelId(topic)}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${channelId(topic)}` },
      summary: `Publish ${topic}`,
      messages: [{ $ref: `#/channels/${channelId(topic)}/messages/${id}` }],
    };
  }
  channels[channelId(DLQ_TOPIC)] = {
    address: DLQ_TOPIC,
    description: 'Records that could not be processed, with their original bytes (base64) and the reason.',
    messages: { deadLetter: { $ref: '#/components/messages/deadLetter' } },
    bindings: { kafka: kafkaBinding(specOf(DLQ_TOPIC)) },
  };
  messages.deadLetter = {
    name: DLQ_TOPIC,
    contentType: 'application/json',
    payload: {
      type: 'object',
      required: ['originalTopic', 'error', 'timestamp', 'errorClass', 'attempts', 'failedBy', 'original'],
      properties: {
        originalTopic: { type: 'string' },
        originalMessage: {
          description: 'The original value parsed as JSON when it is JSON and small; else null',
        },
        error: { type: 'string' },
        timestamp: { type: 'integer' },
        errorClass: { type: 'string' },
        errorCode: { type: 'string' },
        attempts: { type: 'integer' },
        failedBy: { type: 'string' },
        original: {
          type: 'object',
          properties: {
            partition: { type: 'integer' },
            offset: { type: 'string' },
            timestamp: { type: 'string' },
            key: { type: ['string', 'null'], contentEncoding: 'base64' },
            value: { type: ['string', 'null'], contentEncoding: 'base64' },
            headers: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
          },
        },
      },
    },
  };
  operations['dead-letter'] = {
    action: 'send',
    channel: { $ref: `#/channels/${channelId(DLQ_TOPIC)}` },
    summary: 'Dead-letter a record that can never be processed',
    messages: [{ $ref: `#/channels/${channelId(DLQ_TOPIC)}/messages/deadLetter` }],
  };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'e-santé event bus',
      version: '1.0.0',
      description:
        'Domain events of the e-santé platform. Generated from shared/events/catalog.ts by `npm run asyncapi`; do not edit.',
    },
    defaultContentType: 'application/json',
    servers: {
      local: { host: 'localhost:9092', protocol: 'kafka', description: 'npm start' },
      msk: {
        host: '{bootstrap}',
        protocol: 'kafka-secure',
        description: 'Amazon MSK, IAM auth (SASL/OAUTHBEARER over TLS)',
        variables: { bootstrap: { description: 'GetBootstrapBrokers BootstrapBrokerStringSaslIam' } },
      },
    },
    channels,
    operations,
    components: { messages },
  };
};
