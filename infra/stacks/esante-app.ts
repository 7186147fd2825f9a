import type { App } from 'aws-cdk-lib';
import { Tags } from 'aws-cdk-lib';
import { ConsumersStack } from './consumers-stack.ts';
import { DataStack } from './data-stack.ts';
import { EventBusStack } from './event-bus-stack.ts';
import { NetworkStack } from './network-stack.ts';
import { settingsFrom } from './stage.ts';

export interface EsanteStacks {
  network: NetworkStack;
  bus: EventBusStack;
  data: DataStack;
  consumers: ConsumersStack;
}

/**
 * Four stacks by rate of change and blast radius: the network (rarely changes), the event bus (the MSK
 * cluster and topics: stateful, slow to replace), the data (tables, DLQ, SES: stateful, retained), and the
 * consumers (functions, mappings, alarms: redeployed often, stateless).
 */
export const buildApp = (app: App): EsanteStacks => {
  const { stage, env } = settingsFrom(app);
  const prefix = `Esante-${stage.name}`;
  const network = new NetworkStack(app, `${prefix}-Network`, { env, stage });
  const bus = new EventBusStack(app, `${prefix}-EventBus`, {
    env,
    stage,
    vpc: network.vpc,
    brokerSecurityGroup: network.brokerSecurityGroup,
  });
  const data = new DataStack(app, `${prefix}-Data`, { env, stage });
  const consumers = new ConsumersStack(app, `${prefix}-Consumers`, {
    env,
    stage,
    vpc: network.vpc,
    functionSecurityGroup: network.functionSecurityGroup,
    clusterArn: bus.clusterArn,
    tables: data.tables,
    deadLetterQueue: data.deadLetterQueue,
    dataKey: data.key,
    emailFrom: data.emailFrom,
    emailIdentity: data.emailIdentity,
    configurationSetName: data.configurationSet.configurationSetName,
  });
  consumers.addStackDependency(bus, 'topics exist before the mappings read them');
  Tags.of(app).add('project', 'esante-event-bus');
  Tags.of(app).add('stage', stage.name);
  return { network, bus, data, consumers };
};
