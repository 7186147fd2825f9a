/**
 * `npm run console -- --stage <stage> [--region <region>] [--port <port>]`: the operator console alone,
 * against a deployed stage, with the operator's own AWS credentials (the default provider chain). It finds
 * the stage's resources by the names the CDK app gives them (infra/names.ts): the MSK cluster
 * `esante-<stage>` (Kafka over IAM, brokers from GetBootstrapBrokers), the tables `<stage>-esante-*` and the
 * ESM dead-letter queue `<stage>-esante-esm-dlq`; the consumers' state and lag come from the functions'
 * event-source mappings and CloudWatch OffsetLag, as the health function reports them. The operator is the
 * caller's ARN (STS GetCallerIdentity). The credentials need read access to the tables, the queue
 * (receive, change visibility, delete for replays), Lambda ListEventSourceMappings, CloudWatch GetMetricData,
 * and the cluster (read the topics, write the replayed ones, `esante.dlq` and `ops.phi.revealed`).
 *
 * Locally the console is part of `npm start` (http://127.0.0.1:3000/).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { KafkaClient, ListClustersV2Command } from '@aws-sdk/client-kafka';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mappingConsumers } from '../functions/health/mappings.ts';
import { awsConsumerGroupId } from '../infra/constructs/kafka-access.ts';
import { CONSUMERS } from '../infra/consumers.ts';
import { functionName, stageClusterName, stageResourceName } from '../infra/names.ts';
import { DEAD_LETTER_QUEUE, TABLES } from '../infra/resources.ts';
import { openConsole } from './index.ts';

const STAGE = /^[a-z0-9]+$/;

/** The environment the shared code reads (Kafka, tables, queue) for a deployed stage. */
export const stageEnvironment = async (stage: string, region: string): Promise<Record<string, string>> => {
  const cluster = stageClusterName(stage);
  const kafka = new KafkaClient({ region });
  const sqs = new SQSClient({ region });
  try {
    const { ClusterInfoList = [] } = await kafka.send(
      new ListClustersV2Command({ ClusterNameFilter: cluster }),
    );
    const arn = ClusterInfoList.find((c) => c.ClusterName === cluster)?.ClusterArn;
    if (!arn)
      throw new Error(`No MSK cluster named ${cluster} in ${region}: is stage "${stage}" deployed there?`);
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: stageResourceName(stage, DEAD_LETTER_QUEUE.name) }),
    );
    return {
      AWS_REGION: region,
      MSK_CLUSTER_ARN: arn,
      KAFKA_AUTH: 'iam',
      ...Object.fromEntries(Object.values(TABLES).map((t) => [t.env, stageResourceName(stage, t.name)])),
      ...(QueueUrl ? { [DEAD_LETTER_QUEUE.env]: QueueUrl } : {}),
    };
  } finally {
    kafka.destroy();
    sqs.destroy();
  }
};

export const main = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({
    args: argv,
    options: {
      stage: { type: 'string' },
      region: { type: 'string' },
      port: { type: 'string', default: '3000' },
    },
  });
  if (!values.stage) {
    console.error(
      'usage: npm run console -- --stage <stage> [--region <region>] [--port <port>]\n' +
        'Locally the console is served by `npm start` at http://127.0.0.1:3000/.',
    );
    return 2;
  }
  const stage = values.stage;
  if (!STAGE.test(stage)) throw new Error(`Stage "${stage}" must be one lower-case word (a-z, 0-9)`);
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new Error("Give the stage's region: --region <region> or AWS_REGION");
  Object.assign(process.env, await stageEnvironment(stage, region));
  // On a stage the operator is the AWS principal whose credentials the console uses (the actor of its
  // reveals and replays), not a name anyone can set.
  const sts = new STSClient({ region });
  const { Arn } = await sts.send(new GetCallerIdentityCommand({})).finally(() => sts.destroy());
  if (!Arn) throw new Error('STS GetCallerIdentity named no caller');
  process.env.CONSOLE_OPERATOR = Arn.slice(0, 128);
  const operatorConsole = await openConsole({
    stage,
    operator: Arn.slice(0, 128),
    groupIdFor: (consumer, topic) => awsConsumerGroupId(stage, consumer, topic),
    probe: mappingConsumers({ functions: CONSUMERS.map((c) => functionName(stage, c.name)) }),
  });
  const server = createServer(operatorConsole.listener);
  await new Promise<void>((ok) => server.listen(Number(values.port), '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  operatorConsole.listening(port);
  console.log(`Console for stage ${stage} (${region}): http://127.0.0.1:${port}/ — Ctrl-C to stop`);
  return new Promise<number>(() => undefined);
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`npm run console failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
