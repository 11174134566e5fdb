#!/usr/bin/env node
// Entry point of the `gregor` command: dispatch, then exit with the command's code.

import { runCli } from './commands.js';

process.exitCode = await runCli(process.argv.slice(2), process.stdout, process.stderr);
