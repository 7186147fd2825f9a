import {
  ConditionalCheckFailedException,
  dynamo,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '../../shared/lambda/clients.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';

/** The environment variable infra/resources.ts names for the table (TABLES.consultations.env). */
export const CONSULTATIONS_TABLE_ENV = 'CONSULTATIONS_TABLE';

export interface DraftItem {
  consultationId: string;
  appointmentId: string;
  patientId: string;
  doctorId: string;
  consultationDate: string;
  diagnosis: string;
  status: 'draft';
  sourceEventId: string;
  createdAt: string;
  /** Set once `medical.consultation.created` is acknowledged by Kafka. */
  publishedAt?: string;
}

const table = () => requireEnv(CONSULTATIONS_TABLE_ENV);

/** Stores the draft unless the consultation exists; returns the stored item either way. */
export const putDraft = async (draft: DraftItem): Promise<DraftItem> => {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: table(),
        Item: draft,
        ConditionExpression: 'attribute_not_exists(consultationId)',
      }),
    );
    return draft;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const existing = await getDraft(draft.consultationId);
    if (!existing) throw error;
    return existing;
  }
};

export const getDraft = async (consultationId: string): Promise<DraftItem | undefined> => {
  const out = await dynamo().send(
    new GetCommand({ TableName: table(), Key: { consultationId }, ConsistentRead: true }),
  );
  return out.Item as DraftItem | undefined;
};

export const markPublished = async (consultationId: string, at = new Date()): Promise<void> => {
  await dynamo().send(
    new UpdateCommand({
      TableName: table(),
      Key: { consultationId },
      UpdateExpression: 'SET publishedAt = if_not_exists(publishedAt, :at)',
      ExpressionAttributeValues: { ':at': at.toISOString() },
    }),
  );
};
