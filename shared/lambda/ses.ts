import { SESv2Client } from '@aws-sdk/client-sesv2';
import { awsClientConfig, onResetClients } from './clients.ts';

/** Re-exported so the notification function sends through the layer's SDK (see clients.ts). */
export { SendEmailCommand } from '@aws-sdk/client-sesv2';

/** The SES v2 client, in a module of its own: only the notification function pays for loading it. */
let sesClient: SESv2Client | undefined;

export const ses = (): SESv2Client => {
  sesClient ??= new SESv2Client(awsClientConfig('ses'));
  return sesClient;
};

onResetClients(() => {
  sesClient?.destroy();
  sesClient = undefined;
});
