export * from './commands.js';
export * from './dump-log.js';
export * from './metadata-shell.js';
export * from './metadata-shell-args.js';
