export * from './commands.js';
export * from './dump-log.js';
