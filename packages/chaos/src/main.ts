#!/usr/bin/env node
// `npm run chaos` (node packages/chaos/dist/main.js): a chaos campaign against a cluster it starts.

import { runChaosCommand } from './command.js';

process.exitCode = await runChaosCommand(process.argv.slice(2), process.stdout, process.stderr);
