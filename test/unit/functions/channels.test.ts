import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SES_CONFIGURATION_SET_ENV, sendEmail } from '../../../functions/notification/channels.ts';
import { EMAIL } from '../../../infra/resources.ts';
import { ses } from '../../../shared/lambda/ses.ts';

/** The SES client is faked (it is outside the unit): what matters is the SendEmail request the function builds. */
describe('sendEmail', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  const sent = async (): Promise<SendEmailCommand['input']> => {
    const send = vi.spyOn(ses(), 'send').mockResolvedValue({ MessageId: 'm-1' } as never);
    await expect(sendEmail('p-1@example.org', { subject: 's', body: 'b', language: 'en' })).resolves.toBe(
      'm-1',
    );
    expect(send).toHaveBeenCalledOnce();
    const command = send.mock.calls[0]?.[0];
    expect(command).toBeInstanceOf(SendEmailCommand);
    return (command as SendEmailCommand).input;
  };

  it('names the configuration set the CDK app passes, so its TLS policy applies', async () => {
    // Prepare: the variable the CDK app sets on the notification function.
    expect(SES_CONFIGURATION_SET_ENV).toBe(EMAIL.configurationSetEnv);
    vi.stubEnv(SES_CONFIGURATION_SET_ENV, 'esante-prod-notifications');
    // Act
    const input = await sent();
    // Assess
    expect(input.ConfigurationSetName).toBe('esante-prod-notifications');
    expect(input.Destination?.ToAddresses).toEqual(['p-1@example.org']);
  });

  it('names no configuration set when none is configured (the local SES has none)', async () => {
    vi.stubEnv(SES_CONFIGURATION_SET_ENV, undefined);
    const input = await sent();
    expect(input).not.toHaveProperty('ConfigurationSetName');
  });
});
