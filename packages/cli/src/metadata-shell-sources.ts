// Where the metadata shell reads the tree from: a Kafka listener (what the Kafka protocol carries),
// a controller listener (DescribeMetadata: the node's whole applied image) or a stopped node's data
// directory. Each address is tried in turn; a node that cannot answer is an expected failure
// (MetadataUnavailableError), not a crash.

import { type DescribeMetadataTls, describeMetadata } from '@gregor/broker';
import {
  applyRecords,
  decodeMetadataBatch,
  MetadataImage,
  type MetadataNode,
  metadataTree,
} from '@gregor/metadata';
import { ApiKey, configResourceType } from '@gregor/protocol';
import { openCliConnection } from './cli-connection.js';
import { type ClientSecurity, plaintextSecurity } from './client-properties.js';
import { securityFromFlag } from './connection-flags.js';
import type { Address, MetadataShellSource } from './metadata-shell-args.js';
import { kafkaMetadataTree, topicConfigsFrom } from './metadata-shell-kafka-tree.js';
import {
  OfflineMetadataError,
  offlineNote,
  offlineTree,
  readOfflineMetadata,
} from './metadata-shell-offline.js';
import { MetadataUnavailableError } from './metadata-shell-session.js';

/** Metadata v9: the newest Gregor serves, the first with leader epochs in every partition (7+) and flexible. */
const metadataVersion = 9;
/** DescribeConfigs v1: the first with each config's source, to tell topic overrides from defaults. */
const describeConfigsVersion = 1;

export interface LoadedSource {
  /** Reads the tree (again, for online sources: the shell shows the cluster as it is now). */
  readonly load: () => Promise<MetadataNode>;
  /** Said once on stderr before any output (the offline caveat). */
  readonly note: string | null;
}

const describeAddress = (address: Address): string =>
  address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;

async function firstAnswer<T>(
  addresses: readonly Address[],
  ask: (address: Address) => Promise<T>,
): Promise<T> {
  const failures: string[] = [];
  for (const address of addresses) {
    try {
      return await ask(address);
    } catch (error) {
      failures.push(`${describeAddress(address)}: ${(error as Error).message}`);
    }
  }
  throw new MetadataUnavailableError(`cannot reach the cluster (${failures.join('; ')})`);
}

export async function loadFromKafka(
  address: Address,
  timeoutMs: number,
  security: ClientSecurity = plaintextSecurity,
): Promise<MetadataNode> {
  const connection = await openCliConnection({
    host: address.host,
    port: address.port,
    clientId: 'gregor-metadata-shell',
    timeoutMs,
    security,
  });
  try {
    const metadata = await connection.call(
      ApiKey.Metadata,
      metadataVersion,
      {
        topics: null,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      timeoutMs,
    );
    const topicNames = metadata.topics.flatMap((topic) =>
      topic.errorCode === 0 && topic.name !== null ? [topic.name] : [],
    );
    const configs =
      topicNames.length === 0
        ? new Map<string, Record<string, string | null>>()
        : topicConfigsFrom(
            await connection.call(
              ApiKey.DescribeConfigs,
              describeConfigsVersion,
              {
                resources: topicNames.map((name) => ({
                  resourceType: configResourceType.topic,
                  resourceName: name,
                  configurationKeys: null,
                })),
                includeSynonyms: false,
              },
              timeoutMs,
            ),
          );
    return kafkaMetadataTree(metadata, configs);
  } finally {
    connection.close();
  }
}

/** The image of a DescribeMetadata answer: one batch of the image's records (empty for none). */
export function imageFromDescribeMetadata(bytes: Uint8Array): MetadataImage {
  return bytes.length === 0
    ? MetadataImage.empty
    : applyRecords(MetadataImage.empty, decodeMetadataBatch(Buffer.from(bytes)));
}

/**
 * TLS for the controller listener from Kafka's client properties (`--command-config`): undefined for
 * PLAINTEXT; a MetadataUnavailableError naming the key for anything it cannot use.
 */
export function controllerTlsFrom(path: string): DescribeMetadataTls | undefined {
  const security = securityFrom(path);
  if (security.protocol === 'PLAINTEXT') return undefined;
  if (security.protocol !== 'SSL' || security.tls === undefined) {
    throw new MetadataUnavailableError(
      `--command-config ${path}: security.protocol ${security.protocol}: the controller listener speaks PLAINTEXT or SSL`,
    );
  }
  const { caPem, keyPem, certificateChainPem, keyPassword, verifyHostname } = security.tls;
  if (caPem === undefined) {
    throw new MetadataUnavailableError(
      `--command-config ${path}: ssl.truststore.location is required for SSL`,
    );
  }
  if (keyPassword !== undefined) {
    throw new MetadataUnavailableError(
      `--command-config ${path}: ssl.key.password: the controller listener's client key must not be encrypted`,
    );
  }
  return {
    caPem,
    ...(keyPem === undefined ? {} : { keyPem }),
    ...(certificateChainPem === undefined ? {} : { certificateChainPem }),
    verifyHostname,
  };
}

function securityFrom(path: string | undefined): ClientSecurity {
  const security = securityFromFlag('--command-config', path);
  if (typeof security === 'string') throw new MetadataUnavailableError(security);
  return security;
}

export async function loadFromController(
  address: Address,
  timeoutMs: number,
  tls?: DescribeMetadataTls,
): Promise<MetadataNode> {
  const response = await describeMetadata({
    host: address.host,
    port: address.port,
    timeoutMs,
    ...(tls === undefined ? {} : { tls }),
  });
  if (response.status.errorCode !== 0) {
    throw new Error(`error ${response.status.errorCode}: ${response.status.errorMessage}`);
  }
  return metadataTree(imageFromDescribeMetadata(response.imageSnapshot), {
    clusterId: response.clusterId,
    controllerId: response.controllerId >= 0 ? response.controllerId : null,
  });
}

/** Opens the source; for a data directory this reads it (once: a stopped node does not change). */
export async function openSource(source: MetadataShellSource, timeoutMs: number): Promise<LoadedSource> {
  switch (source.kind) {
    case 'bootstrap-server': {
      const security = securityFrom(source.commandConfig);
      return {
        load: () => firstAnswer(source.addresses, (address) => loadFromKafka(address, timeoutMs, security)),
        note: null,
      };
    }
    case 'controller': {
      const tls = source.commandConfig === undefined ? undefined : controllerTlsFrom(source.commandConfig);
      return {
        load: () => firstAnswer(source.addresses, (address) => loadFromController(address, timeoutMs, tls)),
        note: null,
      };
    }
    case 'data-dir': {
      let offline: Awaited<ReturnType<typeof readOfflineMetadata>>;
      try {
        offline = await readOfflineMetadata(source.dir);
      } catch (error) {
        if (error instanceof OfflineMetadataError) throw new MetadataUnavailableError(error.message);
        throw error;
      }
      const root = offlineTree(offline);
      return { load: async () => root, note: offlineNote(offline) };
    }
  }
}
