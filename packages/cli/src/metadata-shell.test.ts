import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  cat,
  encodeImageSnapshot,
  encodeMetadataBatch,
  imageToRecords,
  MetadataImage,
  metadataTree,
  tree,
} from '@gregor/metadata';
import { zeroUuid } from '@gregor/protocol';
import { LevelRaftStore, type LogEntry } from '@gregor/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './commands.js';
import { runMetadataShell } from './metadata-shell.js';
import { metadataShellUsage, parseAddress, parseMetadataShellArgs } from './metadata-shell-args.js';
import { type KafkaMetadata, kafkaMetadataTree, topicConfigsFrom } from './metadata-shell-kafka-tree.js';
import { imageFromPersistedState, metadataLogDirIn, offlineNote } from './metadata-shell-offline.js';
import { MetadataShellSession } from './metadata-shell-session.js';
import { imageFromDescribeMetadata } from './metadata-shell-sources.js';
import { buildMetadataLog, controllerNodeId, testClusterId } from './testing/metadata-shell-harness.js';

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

const log = buildMetadataLog();
const ordersId = log.image.topics.get('orders')!.topicId;

/** The log as Raft entries: a leader-change marker, then one entry per controller batch. */
function raftEntries(): LogEntry[] {
  return [
    { offset: 0, epoch: 1, type: 'leader-change', payload: new Uint8Array() },
    ...log.batches.map((batch, index) => ({
      offset: index + 1,
      epoch: 1,
      type: 'data' as const,
      payload: encodeMetadataBatch(batch),
    })),
  ];
}

describe('metadata-shell arguments', () => {
  it('takes one source, a timeout and the command to run once', () => {
    expect(parseMetadataShellArgs(['--bootstrap-server', '127.0.0.1:9092', 'cat', '/controller'])).toEqual({
      kind: 'options',
      options: {
        source: { kind: 'bootstrap-server', addresses: [{ host: '127.0.0.1', port: 9092 }] },
        timeoutMs: 5_000,
        command: ['cat', '/controller'],
      },
    });
    expect(parseMetadataShellArgs(['--controller=a:1,[::1]:2', '--timeout-ms', '300'])).toEqual({
      kind: 'options',
      options: {
        source: {
          kind: 'controller',
          addresses: [
            { host: 'a', port: 1 },
            { host: '::1', port: 2 },
          ],
        },
        timeoutMs: 300,
        command: [],
      },
    });
    expect(parseMetadataShellArgs(['--data-dir', '/var/gregor', 'tree'])).toMatchObject({
      options: { source: { kind: 'data-dir', dir: '/var/gregor' }, command: ['tree'] },
    });
    expect(parseMetadataShellArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it.each([
    [[], 'one of --bootstrap-server'],
    [['--data-dir', 'a', '--controller', 'b:1'], 'only one of'],
    [['--bootstrap-server', 'localhost'], 'expected host:port'],
    [['--bootstrap-server', 'h:70000'], 'expected host:port'],
    [['--controller'], '--controller needs a value'],
    [['--data-dir', 'd', '--timeout-ms', '0'], '--timeout-ms must be'],
    [['--zookeeper', 'z:2181'], "unknown option '--zookeeper'"],
    [
      ['--data-dir', 'd', '--command-config', 'c.properties'],
      '--command-config goes with --bootstrap-server or --controller',
    ],
  ])('refuses %j', (args, message) => {
    const parsed = parseMetadataShellArgs(args);
    expect(parsed.kind).toBe('usage-error');
    expect(parsed.kind === 'usage-error' && parsed.message).toContain(message);
  });

  it('keeps --command-config with --controller, in either order', () => {
    expect(
      parseMetadataShellArgs(['--command-config', 'c.properties', '--controller', 'n:9093']),
    ).toMatchObject({
      kind: 'options',
      options: { source: { kind: 'controller', commandConfig: 'c.properties' } },
    });
  });

  it('parses host:port and bracketed IPv6', () => {
    expect(parseAddress('broker-1:9092')).toEqual({ host: 'broker-1', port: 9092 });
    expect(parseAddress('[fe80::1]:19092')).toEqual({ host: 'fe80::1', port: 19092 });
    expect(parseAddress('::1:9092')).toBeNull();
    expect(parseAddress('h:0')).toBeNull();
  });

  it('exits 2 with the usage on a bad command line, 0 with it on --help', async () => {
    const out = new Capture();
    const err = new Capture();
    expect(await runCli(['metadata-shell'], out, err)).toBe(2);
    expect(err.text).toContain('one of --bootstrap-server, --controller or --data-dir is required');
    expect(await runCli(['metadata-shell', '--help'], out, err)).toBe(0);
    expect(out.text).toBe(metadataShellUsage);
    expect(metadataShellUsage).toContain('Only what the Kafka protocol exposes');
  });
});

describe('metadata-shell session over a real image', () => {
  const root = metadataTree(log.image, { clusterId: testClusterId, controllerId: controllerNodeId });
  const session = () => new MetadataShellSession(async () => root);

  it('answers ls, cat and tree with the paths of the znode layout', async () => {
    const shell = session();
    expect(await shell.run(['ls', '/'])).toEqual({
      // No /producerIds: no block was allocated.
      output: 'brokers\ncluster\nclusterSecret\nconfigs\ncontroller\ncontroller_epoch\nfeatures\ntopicIds',
      exitCode: 0,
    });
    // The cluster secret is in the image; the shell shows that it is there, never what it is.
    expect(await shell.run(['cat', '/clusterSecret'])).toEqual({ output: '<redacted>', exitCode: 0 });
    const secret = log.image.clusterSecret!;
    const everything = (await shell.run(['tree'])).output!;
    expect(everything).not.toContain(secret.toString('hex'));
    expect(everything).not.toContain(secret.toString('base64'));
    expect(await shell.run(['cat', '/controller'])).toEqual({
      output: String(controllerNodeId),
      exitCode: 0,
    });
    expect(await shell.run(['ls', '/brokers/topics'])).toEqual({ output: 'audit\norders', exitCode: 0 });
    const state = await shell.run(['cat', '/brokers/topics/orders/partitions/2/state']);
    const partition = log.image.topics.get('orders')!.partitions[2]!;
    expect(JSON.parse(state.output!)).toEqual({
      leader: partition.leader,
      leaderEpoch: partition.leaderEpoch,
      isr: partition.isr,
      replicas: partition.replicas,
      partitionEpoch: partition.partitionEpoch,
    });
    expect(await shell.run(['cat', `/topicIds/${ordersId}`])).toEqual({ output: 'orders', exitCode: 0 });
    expect(await shell.run(['cat', '/configs/topics/orders'])).toEqual({
      output: '{"retention.ms":"60000"}',
      exitCode: 0,
    });
    const whole = await shell.run(['tree']);
    expect(whole.output).toBe(tree(root, '/'));
    expect(await shell.run(['tree', '/cluster'])).toEqual({
      output: `/cluster\n  id: ${testClusterId}`,
      exitCode: 0,
    });
  });

  it('moves with cd and resolves relative paths, . and ..', async () => {
    const shell = session();
    expect(await shell.run(['cd', 'brokers/topics/orders'])).toEqual({ exitCode: 0 });
    expect(await shell.run(['pwd'])).toEqual({ output: '/brokers/topics/orders', exitCode: 0 });
    expect(await shell.run(['ls'])).toEqual({ output: 'partitions', exitCode: 0 });
    expect(await shell.run(['ls', 'partitions'])).toEqual({ output: '0\n1\n2', exitCode: 0 });
    expect((await shell.run(['cat', '../audit'])).exitCode).toBe(0);
    expect(await shell.run(['cd', '/nowhere'])).toEqual({ error: '/nowhere: no such node', exitCode: 1 });
    expect(await shell.run(['pwd'])).toEqual({ output: '/brokers/topics/orders', exitCode: 0 });
    expect(await shell.run(['cd'])).toEqual({ exitCode: 0 });
    expect(await shell.run(['pwd'])).toEqual({ output: '/', exitCode: 0 });
  });

  it('answers mistakes as values with exit codes 1 (no such node) and 2 (usage)', async () => {
    const shell = session();
    expect(await shell.run(['cat', '/brokers/topics/missing'])).toEqual({
      error: '/brokers/topics/missing: no such node',
      exitCode: 1,
    });
    expect(await shell.run(['cat', '/brokers'])).toEqual({ error: '/brokers: is a directory', exitCode: 1 });
    expect(await shell.run(['cat'])).toEqual({ error: 'cat: which path?', exitCode: 2 });
    expect(await shell.run(['ls', '/a', '/b'])).toEqual({ error: 'ls: too many arguments', exitCode: 2 });
    expect(await shell.run(['rmr', '/'])).toEqual({ error: "unknown command 'rmr' (try help)", exitCode: 2 });
    expect(await shell.run(['exit'])).toEqual({ exitCode: 0, exit: true });
    expect(await shell.run([])).toEqual({ exitCode: 0 });
  });
});

describe('metadata-shell over the Kafka protocol', () => {
  const metadata: KafkaMetadata = {
    throttleTimeMs: 0,
    brokers: [
      { nodeId: 10, host: 'b10', port: 9092, rack: null },
      { nodeId: 2, host: 'b2', port: 9092, rack: 'r1' },
    ],
    clusterId: 'kc',
    controllerId: 2,
    topics: [
      {
        errorCode: 0,
        name: 'events',
        topicId: zeroUuid,
        isInternal: false,
        partitions: [
          {
            errorCode: 0,
            partitionIndex: 0,
            leaderId: 2,
            leaderEpoch: 4,
            replicaNodes: [2, 10],
            isrNodes: [2],
            offlineReplicas: [10],
          },
        ],
        topicAuthorizedOperations: 0,
      },
      {
        errorCode: 3,
        name: 'vanished',
        topicId: zeroUuid,
        isInternal: false,
        partitions: [],
        topicAuthorizedOperations: 0,
      },
    ],
    clusterAuthorizedOperations: 0,
    errorCode: 0,
  };
  const configs = topicConfigsFrom({
    throttleTimeMs: 0,
    results: [
      {
        errorCode: 0,
        errorMessage: null,
        resourceType: 2,
        resourceName: 'events',
        configs: [
          // Only the topic's own setting (source 1) is the topic's config; defaults are not.
          {
            name: 'cleanup.policy',
            value: 'compact',
            readOnly: false,
            isDefault: false,
            configSource: 1,
            isSensitive: false,
            synonyms: [],
            configType: 0,
            documentation: null,
          },
          {
            name: 'retention.ms',
            value: '604800000',
            readOnly: false,
            isDefault: true,
            configSource: 5,
            isSensitive: false,
            synonyms: [],
            configType: 0,
            documentation: null,
          },
        ],
      },
    ],
  });

  it('builds the same paths from Metadata and DescribeConfigs, numbers in numeric order', () => {
    const root = kafkaMetadataTree(metadata, configs);
    expect(cat(root, '/cluster/id')).toBe('kc');
    expect(cat(root, '/controller')).toBe('2');
    expect([...root.children.get('brokers')!.children.get('ids')!.children.keys()]).toEqual(['2', '10']);
    expect(JSON.parse(cat(root, '/brokers/ids/2') as string)).toEqual({
      brokerId: 2,
      host: 'b2',
      port: 9092,
      rack: 'r1',
    });
    expect(JSON.parse(cat(root, '/brokers/topics/events/partitions/0/state') as string)).toEqual({
      leader: 2,
      leaderEpoch: 4,
      isr: [2],
      replicas: [2, 10],
      offlineReplicas: [10],
    });
    expect(cat(root, '/configs/topics/events')).toBe('{"cleanup.policy":"compact"}');
    expect(cat(root, '/brokers/topics/vanished')).toEqual({
      error: '/brokers/topics/vanished: no such node',
    });
  });

  it('says there is no controller as null', () => {
    const root = kafkaMetadataTree({ ...metadata, controllerId: -1 }, configs);
    expect(cat(root, '/controller')).toBe('-1');
  });
});

describe('metadata-shell with --controller (DescribeMetadata answers)', () => {
  it('rebuilds the image from the answer, and an empty answer as the empty image', () => {
    const bytes = encodeMetadataBatch(imageToRecords(log.image));
    const rebuilt = imageFromDescribeMetadata(bytes);
    const context = { clusterId: testClusterId, controllerId: 3 };
    expect(tree(metadataTree(rebuilt, context), '/')).toBe(tree(metadataTree(log.image, context), '/'));
    expect(imageFromDescribeMetadata(Buffer.alloc(0))).toBe(MetadataImage.empty);
  });
});

describe('metadata-shell offline (--data-dir)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gregor-metadata-shell-'));
    const logDir = join(dir, '__cluster_metadata-0');
    mkdirSync(logDir);
    writeFileSync(join(dir, 'meta.properties'), `#\ncluster.id=${testClusterId}\nnode.id=1\nversion=1\n`);
    const store = await LevelRaftStore.open(logDir);
    await store.persist({
      hardState: { epoch: 1, votedFor: controllerNodeId },
      truncateFromOffset: undefined,
      snapshot: undefined,
      entries: raftEntries(),
      readyId: 0,
    });
    await store.close();
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('replays the snapshot and the entries after it, counting those that may not be committed', () => {
    const entries = raftEntries();
    const fromLog = imageFromPersistedState({
      hardState: { epoch: 1, votedFor: undefined },
      snapshot: undefined,
      entries,
    });
    expect(fromLog).toMatchObject({
      snapshotEndOffset: 0,
      logEndOffset: entries.length,
      entriesAfterSnapshot: log.batches.length,
    });
    expect(encodeImageSnapshot(fromLog.image)).toEqual(encodeImageSnapshot(log.image));
    expect(offlineNote(fromLog)).toContain(
      `including ${log.batches.length} entries that may not be committed`,
    );

    // A snapshot taken after the first three batches, then the rest of the log.
    const snapshotEnd = 4;
    const fromSnapshot = imageFromPersistedState({
      hardState: { epoch: 1, votedFor: undefined },
      snapshot: { id: { endOffset: snapshotEnd, epoch: 1 }, bytes: encodeImageSnapshot(log.images[2]!) },
      entries: entries.slice(snapshotEnd),
    });
    expect(encodeImageSnapshot(fromSnapshot.image)).toEqual(encodeImageSnapshot(log.image));
    expect(fromSnapshot.entriesAfterSnapshot).toBe(entries.length - snapshotEnd);

    const snapshotOnly = imageFromPersistedState({
      hardState: { epoch: 1, votedFor: undefined },
      snapshot: { id: { endOffset: entries.length, epoch: 1 }, bytes: encodeImageSnapshot(log.image) },
      entries: [],
    });
    expect(offlineNote(snapshotOnly)).toContain('everything shown is committed');
  });

  it('finds the metadata log under the directory or as the directory itself', () => {
    expect(metadataLogDirIn(dir)).toBe(join(dir, '__cluster_metadata-0'));
    expect(metadataLogDirIn(join(dir, '__cluster_metadata-0'))).toBe(join(dir, '__cluster_metadata-0'));
    expect(() => metadataLogDirIn(tmpdir())).toThrow('no __cluster_metadata-0 directory here');
  });

  it('runs one command: data on stdout, the caveat on stderr, cluster id from meta.properties', async () => {
    const out = new Capture();
    const err = new Capture();
    expect(await runCli(['metadata-shell', '--data-dir', dir, 'cat', '/cluster/id'], out, err)).toBe(0);
    expect(out.text).toBe(`${testClusterId}\n`);
    expect(err.text).toContain('may not be committed');
    const topics = new Capture();
    expect(await runCli(['metadata-shell', '--data-dir', dir, 'ls', '/brokers/topics'], topics, err)).toBe(0);
    expect(topics.text).toBe('audit\norders\n');
    const missing = new Capture();
    expect(await runCli(['metadata-shell', '--data-dir', dir, 'cat', '/brokers/ids/9'], out, missing)).toBe(
      1,
    );
    expect(missing.text).toContain('/brokers/ids/9: no such node');
  });

  it('reads commands from a non-terminal stdin; the exit code is the worst of them', async () => {
    const out = new Capture();
    const err = new Capture();
    const input = Readable.from([
      'cd /brokers/topics\nls\n',
      '# a comment\ncat orders/partitions/0/state\ncat nope\n',
    ]);
    const code = await runMetadataShell(['--data-dir', dir], out, err, input);
    expect(code).toBe(1);
    const lines = out.text.split('\n');
    expect(lines.slice(0, 2)).toEqual(['audit', 'orders']);
    expect(JSON.parse(lines[2]!)).toMatchObject({ partitionEpoch: 0 });
    expect(err.text).toContain('/brokers/topics/nope: no such node');
    expect(out.text).not.toContain('gregor-metadata>');
  });

  it('refuses a store a running node holds, and a directory without one, with exit code 1', async () => {
    const holder = await LevelRaftStore.open(join(dir, '__cluster_metadata-0'));
    try {
      const err = new Capture();
      expect(await runCli(['metadata-shell', '--data-dir', dir, 'ls', '/'], new Capture(), err)).toBe(1);
      expect(err.text).toContain('the node is running; use --controller or --bootstrap-server');
    } finally {
      await holder.close();
    }
    const err = new Capture();
    expect(
      await runCli(['metadata-shell', '--data-dir', join(dir, 'nowhere'), 'ls', '/'], new Capture(), err),
    ).toBe(1);
    expect(err.text).toContain('no __cluster_metadata-0 directory here');
  });
});
