import type { App } from 'aws-cdk-lib';
import { Tags } from 'aws-cdk-lib';
import type { ConsumerDefinition } from '../consumers.ts';
import { anchorBucketName } from '../resources.ts';
import { ConsumersStack } from './consumers-stack.ts';
import { DataStack } from './data-stack.ts';
import { EventBusStack, type TopicSpec } from './event-bus-stack.ts';
import { NetworkStack } from './network-stack.ts';
import { SchemaRegistryStack } from './schema-registry-stack.ts';
import { settingsFrom } from './stage.ts';

export interface EsanteStacks {
  network: NetworkStack;
  bus: EventBusStack;
  data: DataStack;
  consumers: ConsumersStack;
  schemas: SchemaRegistryStack;
}

/**
 * Five stacks by rate of change and blast radius: the network (rarely changes), the event bus (the MSK
 * cluster and topics: stateful, slow to replace), the data (tables, DLQ, SES: stateful, retained), the
 * consumers (functions, mappings, alarms: redeployed often, stateless), and the schema registry (the
 * released catalog schemas in AWS Glue, changed with the catalog).
 */
/** What the app is built from; the defaults are the catalog and infra/consumers.ts (tests pass larger ones). */
export interface BuildOptions {
  topics?: readonly TopicSpec[];
  consumers?: readonly ConsumerDefinition[];
}

export const buildApp = (app: App, options: BuildOptions = {}): EsanteStacks => {
  const { stage, env } = settingsFrom(app);
  const prefix = `Esante-${stage.name}`;
  const network = new NetworkStack(app, `${prefix}-Network`, { env, stage });
  const bus = new EventBusStack(app, `${prefix}-EventBus`, {
    env,
    stage,
    vpc: network.vpc,
    brokerSecurityGroup: network.brokerSecurityGroup,
    ...(options.topics ? { topics: options.topics } : {}),
  });
  const data = new DataStack(app, `${prefix}-Data`, { env, stage });
  const consumers = new ConsumersStack(app, `${prefix}-Consumers`, {
    env,
    stage,
    vpc: network.vpc,
    functionSecurityGroup: network.functionSecurityGroup,
    kafka: bus.kafkaArns(),
    ...(options.topics ? { topics: options.topics.map((t) => t.topic) } : {}),
    ...(options.consumers ? { consumers: options.consumers } : {}),
    tables: data.tables,
    deadLetterQueue: data.deadLetterQueue,
    dataKey: data.key,
    emailFrom: data.emailFrom,
    emailIdentity: data.emailIdentity,
    configurationSetName: data.configurationSet.configurationSetName,
    auditAnchorBucketName: anchorBucketName(stage.name, env.account, env.region),
  });
  consumers.addStackDependency(bus, 'topics exist before the mappings read them');
  // The released catalog schemas (Glue Schema Registry): nothing depends on it, see the stack.
  const schemas = new SchemaRegistryStack(app, `${prefix}-Schemas`, { env, stage });
  Tags.of(app).add('project', 'esante-event-bus');
  Tags.of(app).add('stage', stage.name);
  return { network, bus, data, consumers, schemas };
};
