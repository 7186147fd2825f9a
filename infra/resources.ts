import {
  ANCHOR_BUCKET_ENV,
  ANCHOR_RETENTION_ENV,
  DEFAULT_RETENTION_DAYS,
} from '../functions/audit/anchor-config.ts';

/**
 * The DynamoDB tables and the SQS dead-letter queue, defined once: the CDK data stack creates them on AWS
 * and infra/local creates the same ones on the local servers (dynalite, ElasticMQ). Functions find them
 * through the environment variable named in `env`.
 */
export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface TableDefinition {
  /** Physical name locally; on AWS the stage is prefixed by the CDK app. */
  name: string;
  env: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  indexes: { name: string; partitionKey: KeyAttribute; sortKey?: KeyAttribute }[];
  /** Attribute holding an epoch-seconds expiry, when items expire. */
  ttlAttribute?: string;
}

export const TABLES = {
  audit: {
    name: 'esante-audit',
    env: 'AUDIT_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    indexes: [
      {
        name: 'byPatient',
        partitionKey: { name: 'patientId', type: 'S' },
        sortKey: { name: 'occurredAt', type: 'S' },
      },
      {
        name: 'byActor',
        partitionKey: { name: 'performedBy', type: 'S' },
        sortKey: { name: 'occurredAt', type: 'S' },
      },
      {
        name: 'byResource',
        partitionKey: { name: 'resourceKey', type: 'S' },
        sortKey: { name: 'occurredAt', type: 'S' },
      },
      // The tamper-evident chain of one topic-partition, in order (npm run audit -- verify).
      {
        name: 'byChain',
        partitionKey: { name: 'chainKey', type: 'S' },
        sortKey: { name: 'chainPosition', type: 'S' },
      },
    ],
  },
  contacts: {
    name: 'esante-contacts',
    env: 'CONTACTS_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    indexes: [],
  },
  inbox: {
    name: 'esante-inbox',
    env: 'INBOX_TABLE',
    partitionKey: { name: 'recipientId', type: 'S' },
    sortKey: { name: 'notificationId', type: 'S' },
    indexes: [],
  },
  deliveries: {
    name: 'esante-deliveries',
    env: 'DELIVERIES_TABLE',
    partitionKey: { name: 'deliveryId', type: 'S' },
    indexes: [],
    ttlAttribute: 'expiresAt',
  },
  consultations: {
    name: 'esante-consultations',
    env: 'CONSULTATIONS_TABLE',
    partitionKey: { name: 'consultationId', type: 'S' },
    indexes: [],
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof TABLES;

/** The ESM on-failure destination (AWS) and the emulator's (local). */
export const DEAD_LETTER_QUEUE = { name: 'esante-esm-dlq', env: 'ESM_DLQ_URL', retentionDays: 14 } as const;

/**
 * SES sender identity, a parameter on AWS, fixed locally; the configuration set (TLS required) is named to
 * the function in `configurationSetEnv` on AWS only.
 */
export const EMAIL = {
  fromEnv: 'EMAIL_FROM',
  defaultFrom: 'no-reply@esante.example',
  configurationSetEnv: 'SES_CONFIGURATION_SET',
} as const;

/**
 * The audit trail's anchor (functions/audit/anchor.ts): an S3 bucket with Object Lock in compliance mode,
 * each object retained `retentionDays`; a digest of every chain head every `digestEveryMinutes`, an archive
 * of the slots appended since the last one every `archiveEveryHours`. The CDK app schedules both on AWS;
 * `npm start` runs the same schedule locally (AUDIT_DIGEST_EVERY_SECONDS shortens it for a demo).
 */
export const AUDIT_ANCHOR = {
  bucket: 'esante-audit-anchor',
  env: ANCHOR_BUCKET_ENV,
  retentionEnv: ANCHOR_RETENTION_ENV,
  retentionDays: DEFAULT_RETENTION_DAYS,
  digestEveryMinutes: 60,
  archiveEveryHours: 24,
} as const;

/** The anchor bucket's name on AWS: S3 names are global, so the stage, account and region are part of it. */
export const anchorBucketName = (stage: string, account: string, region: string): string =>
  `${stage}-${AUDIT_ANCHOR.bucket}-${account}-${region}`;
