export * from './batch.ts';
export * from './context.ts';
export * from './emulator.ts';
export * from './on-failure.ts';
export * from './poller.ts';
export * from './sandbox.ts';
export * from './source.ts';
