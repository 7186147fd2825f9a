import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../../shared/lambda/clients.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';
import type { AuditEntry } from './audit.ts';

/** The environment variable infra/resources.ts names for the audit table (TABLES.audit.env). */
export const AUDIT_TABLE_ENV = 'AUDIT_TABLE';

/**
 * Writes the entry unless one exists for the same eventId. Returns false for a duplicate (redelivery or a
 * producer retry): the first entry stands, unchanged.
 */
export const putAuditEntry = async (entry: AuditEntry): Promise<boolean> => {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: requireEnv(AUDIT_TABLE_ENV),
        Item: entry,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
};

export type AuditIndex = 'byPatient' | 'byActor' | 'byResource';

const INDEX_KEY: Record<AuditIndex, string> = {
  byPatient: 'patientId',
  byActor: 'performedBy',
  byResource: 'resourceKey',
};

/** Entries for a patient, an actor or a resource (`type#id`), oldest first. */
export const queryAudit = async (index: AuditIndex, value: string, limit = 100): Promise<AuditEntry[]> => {
  const out = await dynamo().send(
    new QueryCommand({
      TableName: requireEnv(AUDIT_TABLE_ENV),
      IndexName: index,
      KeyConditionExpression: '#k = :v',
      ExpressionAttributeNames: { '#k': INDEX_KEY[index] },
      ExpressionAttributeValues: { ':v': value },
      ScanIndexForward: true,
      Limit: limit,
    }),
  );
  return (out.Items ?? []) as AuditEntry[];
};
