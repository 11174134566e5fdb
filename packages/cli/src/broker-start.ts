// `gregor broker start --config server.properties`: runs one node until SIGTERM or SIGINT, then
// shuts it down cleanly (leaderships handed over first). Bad settings stop start-up with a message
// naming every bad key, and exit code 2; so does a log directory that cannot hold a log.

import {
  ConfigError,
  collectExternalMemoryGarbage,
  createLogger,
  GregorNode,
  LogDirUnusableError,
  loadBrokerConfig,
  MetaPropertiesError,
  missingBrokerNodeFlagCost,
  missingBrokerNodeFlags,
  runningAllocator,
} from '@gregor/broker';
import type { TextOutput } from './dump-log.js';

const usageText =
  'Usage: gregor broker start [--config server.properties]\n' +
  '  Every setting may also come from the environment, which overrides the file: KAFKA_NODE_ID=1\n' +
  '  (the apache/kafka image convention, with CLUSTER_ID) or GREGOR_CFG_NODE_ID=1 (which wins) sets node.id.\n';

export async function runBroker(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === '--help' || subcommand === '-h') {
    out.write(usageText);
    return 0;
  }
  if (subcommand !== 'start') {
    const said = subcommand === undefined ? 'a command is needed' : `unknown command '${subcommand}'`;
    err.write(`gregor broker: ${said}\n${usageText}`);
    return 2;
  }
  let configFile: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--config' && rest[i + 1] !== undefined) configFile = rest[++i];
    else if (arg.startsWith('--config=')) configFile = arg.slice('--config='.length);
    else {
      err.write(`gregor broker start: unexpected argument '${arg}'\n${usageText}`);
      return 2;
    }
  }

  let config: ReturnType<typeof loadBrokerConfig>;
  try {
    config = loadBrokerConfig(configFile);
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(
        error.problems.length === 1
          ? `gregor: invalid configuration: ${error.message}\n`
          : `gregor: invalid configuration (${error.problems.length} problems):\n${error.problems
              .map((problem) => `  ${problem.message}\n`)
              .join('')}`,
      );
      return 2;
    }
    throw error;
  }
  const logger = createLogger({ nodeId: config.settings.nodeId });
  // V8 reads them only when the process starts: `gregor` passes them (its shebang), a plain
  // `node main.js broker start` does not (packages/broker/README.md, "Resident memory").
  for (const flag of missingBrokerNodeFlags(process.execArgv, process.env.NODE_OPTIONS)) {
    logger.warn(
      { flag },
      `started without the Node flag ${flag}: ${missingBrokerNodeFlagCost(flag)}; ` +
        `start it as \`node ${flag} main.js\` or with NODE_OPTIONS=${flag}`,
    );
  }
  // The launchers preload jemalloc with GREGOR_ALLOCATOR=jemalloc where it is installed
  // (packages/broker/README.md, "The allocator"); otherwise, or run directly, the broker runs on the
  // system's malloc. Either way the log says which.
  const allocator = runningAllocator();
  logger.info(
    { allocator },
    allocator === 'jemalloc'
      ? 'running on jemalloc (LD_PRELOAD): freed pages go back to the kernel'
      : "running on the system's malloc (GREGOR_ALLOCATOR=jemalloc, with libjemalloc2 installed, trades CPU for less resident memory)",
  );
  // gregor.external.memory.gc.growth.bytes: a mark-compact once Buffers' garbage has grown by that
  // much, so malloc's heap does not keep the 64 MB V8 lets it grow by (off by default: it costs CPU;
  // packages/broker/README.md, "Resident memory at steady load"). One per process.
  const gcGrowthBytes = config.settings.externalMemoryGcGrowthBytes;
  const externalMemoryGc = gcGrowthBytes > 0 ? collectExternalMemoryGarbage(gcGrowthBytes) : undefined;
  const node = new GregorNode(config, logger);

  let stopRequested: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'stopping');
    stopRequested?.();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  try {
    const started = node.start();
    // A signal during start-up stops the node as soon as it can.
    await Promise.race([started, stopped]);
  } catch (error) {
    if (
      error instanceof MetaPropertiesError ||
      error instanceof LogDirUnusableError ||
      // A setting only start-up can check (gregor.log.open.files.max against the nofile limit).
      error instanceof ConfigError
    ) {
      logger.fatal(error.message);
      await node.stop().catch(() => undefined);
      return 2;
    }
    logger.fatal({ err: error }, 'start-up failed');
    await node.stop().catch(() => undefined);
    return 1;
  }
  await stopped;
  await node.stop();
  if (externalMemoryGc !== undefined) {
    externalMemoryGc.stop();
    const gcStats = externalMemoryGc.stats();
    logger.info(
      gcStats,
      `forced ${gcStats.count} mark-compacts for external memory, ${gcStats.totalMs} ms in all`,
    );
  }
  out.write('');
  return 0;
}
