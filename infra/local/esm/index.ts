export * from './batch.ts';
export * from './context.ts';
export * from './emulator.ts';
export * from './on-failure.ts';
export * from './source.ts';
