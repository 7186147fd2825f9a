import { CfnParameter, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { stageResourceName } from '../names.ts';
import { DEAD_LETTER_QUEUE, EMAIL, type KeyAttribute, TABLES, type TableKey } from '../resources.ts';
import type { StageConfig } from './stage.ts';

export interface DataStackProps extends StackProps {
  stage: StageConfig;
}

const attribute = (a: KeyAttribute): dynamodb.Attribute => ({
  name: a.name,
  type: a.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
});

/**
 * Where the functions keep state: the DynamoDB tables of infra/resources.ts (point-in-time recovery,
 * deletion protection, a customer-managed key), the ESM's SQS dead-letter queue (same key, TLS only,
 * 14 days) and the SES sending configuration, whose sender identity is a deploy-time parameter.
 */
export class DataStack extends Stack {
  readonly key: kms.Key;
  readonly tables = {} as Record<TableKey, dynamodb.Table>;
  readonly deadLetterQueue: sqs.Queue;
  readonly emailFrom: string;
  readonly emailIdentity: string;
  readonly configurationSet: ses.ConfigurationSet;
  readonly senderIdentity: ses.EmailIdentity;
  readonly backupPlan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const removalPolicy = stage.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = new kms.Key(this, 'DataKey', {
      description: 'esante tables and the ESM dead-letter queue',
      enableKeyRotation: true,
      removalPolicy,
    });

    for (const [key, def] of Object.entries(TABLES) as [TableKey, (typeof TABLES)[TableKey]][]) {
      const table = new dynamodb.Table(this, `Table-${key}`, {
        tableName: stageResourceName(stage.name, def.name),
        partitionKey: attribute(def.partitionKey),
        ...('sortKey' in def ? { sortKey: attribute(def.sortKey) } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.key,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        // prod keeps its tables whatever happens to the stack; a dev stage can be destroyed and deployed
        // again (a retained table would block the next create under the same name).
        deletionProtection: stage.retainData,
        ...('ttlAttribute' in def ? { timeToLiveAttribute: def.ttlAttribute } : {}),
        removalPolicy,
      });
      for (const index of def.indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: attribute(index.partitionKey),
          ...('sortKey' in index && index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
        });
      }
      this.tables[key] = table;
    }

    // Backups beyond PITR's 35 days (HIPAA contingency plan): daily, kept 35 days, in a vault under the same key.
    const vault = new backup.BackupVault(this, 'BackupVault', { encryptionKey: this.key, removalPolicy });
    this.backupPlan = new backup.BackupPlan(this, 'BackupPlan', {
      backupPlanName: `esante-${stage.name}-tables`,
      backupVault: vault,
      backupPlanRules: [backup.BackupPlanRule.daily()],
    });
    this.backupPlan.addSelection('Tables', {
      resources: Object.values(this.tables).map((t) => backup.BackupResource.fromDynamoDbTable(t)),
    });

    this.deadLetterQueue = new sqs.Queue(this, 'EsmDeadLetterQueue', {
      queueName: stageResourceName(stage.name, DEAD_LETTER_QUEUE.name),
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(DEAD_LETTER_QUEUE.retentionDays),
      removalPolicy,
    });

    // An SES identity exists once per account and region: each non-prod stage sends from its own subdomain.
    const [localPart, domain = 'esante.example'] = EMAIL.defaultFrom.split('@');
    const stageDomain = stage.name === 'prod' ? domain : `${stage.name}.${domain}`;
    this.emailFrom = new CfnParameter(this, 'EmailFrom', {
      type: 'String',
      default: `${localPart}@${stageDomain}`,
      description: 'Sender address of notification e-mails (must belong to EmailIdentity)',
    }).valueAsString;
    this.emailIdentity = new CfnParameter(this, 'EmailIdentity', {
      type: 'String',
      default: stageDomain,
      description: 'Verified SES identity (domain or address) the notification function may send from',
    }).valueAsString;
    this.configurationSet = new ses.ConfigurationSet(this, 'EmailConfigurationSet', {
      configurationSetName: `esante-${stage.name}-notifications`,
      tlsPolicy: ses.ConfigurationSetTlsPolicy.REQUIRE,
      reputationMetrics: true,
      sendingEnabled: true,
    });
    // The sender identity itself, so SendEmail has something verified to send from: a domain identity with
    // Easy DKIM (publish the three CNAMEs of the DkimDnsTokenName/Value attributes) or an address (verified by
    // the link SES mails to it). docs/cdk.md: verification and leaving the SES sandbox.
    this.senderIdentity = new ses.EmailIdentity(this, 'SenderIdentity', {
      identity: ses.Identity.domain(this.emailIdentity),
      configurationSet: this.configurationSet,
    });
  }
}
