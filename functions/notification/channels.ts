import { PermanentError } from '../../shared/errors.ts';
import { ConditionalCheckFailedException, dynamo, PutCommand } from '../../shared/lambda/clients.ts';
import { SendEmailCommand, ses } from '../../shared/lambda/ses.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';
import type { Rendered } from './templates.ts';

/** Environment variables infra/resources.ts names (TABLES.inbox.env, EMAIL.fromEnv, EMAIL.configurationSetEnv) and its default sender. */
export const INBOX_TABLE_ENV = 'INBOX_TABLE';
export const EMAIL_FROM_ENV = 'EMAIL_FROM';
/**
 * The SES configuration set the CDK app creates (TLS required for delivery) and names in this variable;
 * it applies to a message only when SendEmail names it. Unset locally: no configuration set.
 */
export const SES_CONFIGURATION_SET_ENV = 'SES_CONFIGURATION_SET';
export const DEFAULT_FROM = 'no-reply@esante.example';

export interface InboxItem {
  recipientId: string;
  notificationId: string;
  template: string;
  language: string;
  subject: string;
  body: string;
  sourceEventId: string;
  sourceEventType: string;
  createdAt: string;
  read: boolean;
  /** Set when a newer event of the same resource was notified first (its e-mail was not sent). */
  superseded?: true;
}

/** The in-app inbox: one item per notification id, written once (a repeat is a no-op). */
export const putInboxItem = async (item: InboxItem): Promise<void> => {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: requireEnv(INBOX_TABLE_ENV),
        Item: item,
        ConditionExpression: 'attribute_not_exists(notificationId)',
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
};

/**
 * One plain-text e-mail through SES v2. SES client errors other than throttling (a rejected or malformed
 * message) cannot succeed on retry: they become PermanentError so the record is dead-lettered at once.
 * https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
 */
export const sendEmail = async (to: string, message: Rendered): Promise<string | undefined> => {
  const configurationSet = process.env[SES_CONFIGURATION_SET_ENV]?.trim();
  try {
    const out = await ses().send(
      new SendEmailCommand({
        FromEmailAddress: process.env[EMAIL_FROM_ENV] || DEFAULT_FROM,
        ...(configurationSet ? { ConfigurationSetName: configurationSet } : {}),
        Destination: { ToAddresses: [to] },
        Content: {
          Simple: {
            Subject: { Data: message.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: message.body, Charset: 'UTF-8' } },
          },
        },
      }),
    );
    return out.MessageId;
  } catch (error) {
    const fault = (error as { $fault?: string; name?: string }).$fault;
    const name = (error as Error)?.name ?? '';
    if (fault === 'client' && !/Throttl|TooManyRequests|LimitExceeded/.test(name)) {
      throw new PermanentError(`SES refused the message (${name})`, { cause: error });
    }
    throw error;
  }
};
