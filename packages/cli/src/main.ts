#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=64
// Entry point of the `gregor` command: dispatch, then exit with the command's code. The shebang
// passes the broker's Node flags (brokerNodeFlags in @gregor/broker, which a test keeps equal):
// V8 takes them only at start-up. `env -S` splits them from `node` (coreutils 8.30+, BSD, macOS).

import { runCli } from './commands.js';

process.exitCode = await runCli(process.argv.slice(2), process.stdout, process.stderr);
