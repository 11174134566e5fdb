#!/usr/bin/env node
// `npm run chaos` (node packages/chaos/dist/main.js): a chaos campaign against a cluster it starts.

import { runChaosCommand } from './command.js';

// Exit once the command is done: a client library's handle left open (a reconnect timer, a socket)
// must not keep a finished campaign, and whoever waits for it, running.
process.exit(await runChaosCommand(process.argv.slice(2), process.stdout, process.stderr));
