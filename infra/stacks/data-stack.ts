import { CfnParameter, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { stageResourceName } from '../names.ts';
import {
  anchorBucketName,
  DEAD_LETTER_QUEUE,
  EMAIL,
  type KeyAttribute,
  TABLES,
  type TableKey,
} from '../resources.ts';
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
  /** The audit trail's anchor: digests and archives under COMPLIANCE Object Lock. */
  readonly auditAnchor: s3.Bucket;
  readonly auditAnchorAccessLogs: s3.Bucket;

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

    // The audit anchor (functions/audit/anchor.ts): Object Lock in COMPLIANCE mode with the stage's retention
    // as the default (the writer also stamps each object), versioned (Object Lock requires it), under the
    // data key, TLS only, no public access, its access logged. Retained whatever the stage: a bucket holding
    // locked objects cannot be deleted until they expire.
    this.auditAnchorAccessLogs = new s3.Bucket(this, 'AuditAnchorAccessLogs', {
      // S3 server access logs can only be delivered to a bucket encrypted with S3-managed keys.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.auditAnchor = new s3.Bucket(this, 'AuditAnchor', {
      bucketName: anchorBucketName(stage.name, this.account, this.region),
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(stage.auditRetentionDays)),
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.auditAnchorAccessLogs,
      serverAccessLogsPrefix: 'audit-anchor/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Nobody deletes a version, bypasses a retention or loosens the lock, whatever their IAM policy says
    // (COMPLIANCE mode refuses the first two anyway; this makes the intent explicit and covers the config).
    this.auditAnchor.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NoDeletesNoBypass',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:BypassGovernanceRetention',
          's3:PutBucketObjectLockConfiguration',
          's3:PutLifecycleConfiguration',
        ],
        resources: [this.auditAnchor.bucketArn, this.auditAnchor.arnForObjects('*')],
      }),
    );

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
