export * from './batch.ts';
export * from './clients.ts';
export * from './consumer.ts';
export * from './ids.ts';
export * from './middy.ts';
export * from './msk-event.ts';
export * from './ses.ts';
export * from './settings.ts';
