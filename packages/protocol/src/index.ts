export * from './compression.js';
export * from './errors.js';
export * from './messages/index.js';
export * from './reader.js';
export * from './record-batch.js';
export * from './record-batch-header.js';
export * from './record-validation.js';
export * from './writer.js';
