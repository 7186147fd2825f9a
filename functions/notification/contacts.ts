import {
  ConditionalCheckFailedException,
  dynamo,
  GetCommand,
  PutCommand,
} from '../../shared/lambda/clients.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';
import type { Language } from './templates.ts';

/** The environment variable infra/resources.ts names for the projection (TABLES.contacts.env). */
export const CONTACTS_TABLE_ENV = 'CONTACTS_TABLE';

/**
 * The contact projection: only what notifying needs (address, language, role) — names and phone numbers
 * from the same events are not kept. Each field remembers the timestamp of the event that set it, so
 * events applied out of order (registration and profile updates travel on different topics) or twice
 * leave the newest value.
 */
export interface Contact {
  userId: string;
  email?: string;
  language?: Language;
  role?: string;
  /** Event timestamp (ms) that set each field. */
  setAt: Record<string, number>;
  version: number;
}

export type ContactFields = Partial<Pick<Contact, 'email' | 'language' | 'role'>>;

const table = () => requireEnv(CONTACTS_TABLE_ENV);

export const getContact = async (userId: string): Promise<Contact | undefined> => {
  const out = await dynamo().send(
    new GetCommand({ TableName: table(), Key: { userId }, ConsistentRead: true }),
  );
  return out.Item as Contact | undefined;
};

/** Pure merge: a field changes only when the event is newer than the one that last set it. */
export const mergeContact = (
  current: Contact | undefined,
  userId: string,
  fields: ContactFields,
  at: number,
): Contact | undefined => {
  const next: Contact = current
    ? { ...current, setAt: { ...current.setAt } }
    : { userId, setAt: {}, version: 0 };
  let changed = false;
  for (const [name, value] of Object.entries(fields) as [keyof ContactFields, string | undefined][]) {
    if (value === undefined || (next.setAt[name] ?? -1) >= at) continue;
    (next as unknown as Record<string, unknown>)[name] = value;
    next.setAt[name] = at;
    changed = true;
  }
  return changed ? { ...next, version: (current?.version ?? 0) + 1 } : undefined;
};

/**
 * Read, merge, write with optimistic locking on `version`. A concurrent writer makes the condition fail;
 * the error is transient, so the record tier retries and the merge runs again on fresh data.
 */
export const applyContact = async (userId: string, fields: ContactFields, at: number): Promise<boolean> => {
  const current = await getContact(userId);
  const next = mergeContact(current, userId, fields, at);
  if (!next) return false;
  try {
    await dynamo().send(
      new PutCommand({
        TableName: table(),
        Item: next,
        ConditionExpression: current ? 'version = :v' : 'attribute_not_exists(userId)',
        ...(current ? { ExpressionAttributeValues: { ':v': current.version } } : {}),
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      throw new Error('Contact changed concurrently', { cause: error });
    }
    throw error;
  }
};
