import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLAIM_LEASE_MS,
  claimDelivery,
  getDelivery,
  markSent,
} from '../../../functions/notification/deliveries.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { resetClients } from '../../../shared/lambda/clients.ts';

let aws: LocalAws;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
  Object.assign(process.env, aws.env);
  resetClients();
});

afterAll(async () => {
  await aws?.stop();
  process.env = saved;
  resetClients();
});

describe('delivery claims on DynamoDB', () => {
  it('hold a claim for its lease, then let one run take it over and put the takeover on record', async () => {
    const id = `delivery-${Date.now()}`;
    const t0 = Date.now();
    const first = await claimDelivery(id, 'email', t0);
    expect(first).toMatchObject({ state: 'claimed', takeover: false });

    // The holder "crashed": until the lease runs out, every other run finds the claim busy.
    expect(await claimDelivery(id, 'email', t0 + CLAIM_LEASE_MS - 1_000)).toEqual({ state: 'busy' });

    const after = t0 + CLAIM_LEASE_MS + 1_000;
    const [a, b] = await Promise.all([claimDelivery(id, 'email', after), claimDelivery(id, 'email', after)]);
    const winners = [a, b].filter((c) => c.state === 'claimed');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ takeover: true });
    expect((await getDelivery(id))?.takeovers).toBe(1);

    // Once sent, a redelivery neither claims nor counts anything.
    const won = winners[0] as { token: string };
    await markSent(id, won.token, 'ses-message-id');
    expect(await claimDelivery(id, 'email', after + 2 * CLAIM_LEASE_MS)).toEqual({ state: 'sent' });
    expect(await getDelivery(id)).toMatchObject({
      status: 'sent',
      takeovers: 1,
      messageId: 'ses-message-id',
    });
  });
});
