import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

export interface LocalServer {
  endpoint: string;
  stop(): Promise<void>;
}

const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });

const listen = (server: Server, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

/**
 * dynalite: DynamoDB's API on LevelDB (in memory unless `path` is given), the same engine the Docker
 * images of DynamoDB-compatible stacks use. Tables turn ACTIVE at once (createTableMs 0) so provisioning
 * does not wait. Port 0 picks a free one.
 */
export const startDynalite = async (opts: { port?: number; path?: string } = {}): Promise<LocalServer> => {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(opts.path ? { path: opts.path } : {}),
  });
  const port = await listen(server, opts.port ?? 4567);
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => close(server) };
};

/**
 * aws-ses-v2-local: SES v1/v2 SendEmail; what it "sent" is readable at GET /store (see sentEmails).
 * Its store is per process, shared by every instance started in it.
 */
export const startSes = async (opts: { port?: number } = {}): Promise<LocalServer> => {
  // A CommonJS module with `exports.default`: ESM sees it one level down or two, depending on the loader.
  const mod = (await import('aws-ses-v2-local')) as unknown as {
    default: SesFactory | { default: SesFactory };
  };
  const sesServer = typeof mod.default === 'function' ? mod.default : mod.default.default;
  const server = await sesServer({ host: '127.0.0.1', port: opts.port ?? 8005 });
  const port = (server.address() as AddressInfo).port;
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => close(server) };
};

type SesFactory = (config?: { host?: string; port?: number }) => Promise<Server>;

/** An e-mail as aws-ses-v2-local stores it. */
export interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { text?: string; html?: string };
  at: number;
}

/** The e-mails the local SES server accepted (optionally only those to `to`). */
export const sentEmails = async (sesEndpoint: string, to?: string): Promise<StoredEmail[]> => {
  const res = await fetch(`${sesEndpoint}/store`);
  if (!res.ok) throw new Error(`SES store answered HTTP ${res.status}`);
  const { emails } = (await res.json()) as { emails: StoredEmail[] };
  return to ? emails.filter((e) => e.destination.to.includes(to)) : emails;
};
