export * from './codes.ts';
export * from './errors.ts';
export * from './frames.ts';
export * from './codec.ts';
export * from './channels.ts';
export * from './filter.ts';
