export * from './catalog.ts';
export * from './envelope.ts';
export type { Actor } from './fields.ts';
export * from './topics.ts';
