import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { brokerConfigFrom, describedBrokerSettings, loadBrokerConfig } from './broker-config.js';
import { ConfigError } from './config-def.js';

const fixtures = fileURLToPath(new URL('../../test-fixtures/kafka-config/', import.meta.url));

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.message);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const minimal = {
  'node.id': '1',
  'process.roles': 'broker,controller',
  'cluster.id': 'gregor-test',
  'controller.quorum.voters': '1@127.0.0.1:9192',
  'log.dirs': '/tmp/gregor-a,/tmp/gregor-b',
};

function config(overrides: Record<string, string | undefined> = {}) {
  const raw = new Map<string, string>();
  for (const [key, value] of Object.entries({ ...minimal, ...overrides }))
    if (value !== undefined) raw.set(key, value);
  return brokerConfigFrom(raw);
}

describe('broker config', () => {
  it('reads the delegation token keys, with Kafka defaults; the secret is a password key (described sensitive)', () => {
    const defaults = config().settings;
    expect(defaults.delegationTokenSecretKey).toBe('');
    expect(defaults.delegationTokenMaxLifetimeMs).toBe(604_800_000);
    expect(defaults.delegationTokenExpiryTimeMs).toBe(86_400_000);
    expect(defaults.delegationTokenExpiryCheckIntervalMs).toBe(3_600_000);
    const parsed = config({
      'delegation.token.secret.key': 's3cret',
      'delegation.token.max.lifetime.ms': '1000',
    });
    expect(parsed.settings.delegationTokenSecretKey).toBe('s3cret');
    expect(parsed.settings.delegationTokenMaxLifetimeMs).toBe(1000);
    expect(parsed.keysWithoutEffect.map((entry) => entry.key)).not.toContain('delegation.token.secret.key');
    const described = new Map(describedBrokerSettings(parsed).map((entry) => [entry.name, entry]));
    expect(described.get('delegation.token.secret.key')?.type).toBe('password');
    expect(() => config({ 'delegation.token.expiry.time.ms': '0' })).toThrow(
      /delegation.token.expiry.time.ms/,
    );
  });

  it('fills Kafka defaults and splits the controller listener from the Kafka ones', () => {
    const parsed = config();
    expect(parsed.settings.nodeId).toBe(1);
    expect(parsed.settings.numPartitions).toBe(1);
    expect(parsed.settings.autoCreateTopicsEnable).toBe(true);
    expect(parsed.kafkaListeners).toEqual([{ name: 'PLAINTEXT', host: '', port: 9092 }]);
    expect(parsed.controllerListener).toEqual({ name: 'CONTROLLER', host: '', port: 9192 });
    expect(parsed.log.logDirs).toEqual(['/tmp/gregor-a', '/tmp/gregor-b']);
    expect(parsed.voters).toEqual([{ id: 1, host: '127.0.0.1', port: 9192 }]);
    expect(parsed.settings.groupMinSessionTimeoutMs).toBe(6000);
    expect(parsed.settings.groupMaxSessionTimeoutMs).toBe(1_800_000);
  });

  it('leaves the mark-compact for external memory off unless gregor.external.memory.gc.growth.bytes is set', () => {
    expect(config().settings.externalMemoryGcGrowthBytes).toBe(-1);
    expect(
      config({ 'gregor.external.memory.gc.growth.bytes': '16777216' }).settings.externalMemoryGcGrowthBytes,
    ).toBe(16_777_216);
    expect(problemsOf(() => config({ 'gregor.external.memory.gc.growth.bytes': '4096' }))).toEqual([
      expect.stringMatching(
        /gregor.external.memory.gc.growth.bytes: must be -1 \(off\) or at least 1048576, got 4096/,
      ),
    ]);
  });

  it.each([
    [{ 'node.id': undefined }, /node.id: is required/],
    [{ 'node.id': 'one' }, /node.id: expected an integer/],
    [{ 'num.partitions': '0' }, /num.partitions: must be at least 1/],
    [{ 'auto.create.topics.enable': 'yes' }, /auto.create.topics.enable: expected true or false/],
    [{ 'no.such.key': '1' }, /no.such.key: unknown configuration key/],
    [{ listeners: '' }, /listeners: must name a Kafka listener and the controller listener/],
    [
      { 'gregor.metrics.host': 'x' },
      /gregor.metrics.host: unknown configuration key; did you mean 'gregor.metrics.port'\?/,
    ],
    [{ 'queued.max.request.bytes': '1000' }, /queued.max.request.bytes: is 1000; it must be -1 or at least/],
    [{ 'queued.max.request.bytes': '0' }, /queued.max.request.bytes: cannot be 0/],
    [{ 'broker.id': '2' }, /broker.id: is 2 but node.id is 1/],
    [{ 'broker.rack': 'r'.repeat(257) }, /broker.rack: must be at most 256 characters/],
    [{ 'socket.send.buffer.bytes': '-2' }, /socket.send.buffer.bytes: must be at least -1/],
    [{ 'num.io.threads': 'eight' }, /num.io.threads: expected a 32-bit integer, got 'eight'/],
    [
      { 'offsets.commit.required.acks': '40000' },
      /offsets.commit.required.acks: '40000' does not fit a 16-bit/,
    ],
    [{ 'log.retention.hours': '1.5' }, /log.retention.hours/],
    [
      { 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_SSL' },
      /controller listener CONTROLLER is SASL_SSL, but it serves gRPC between nodes/,
    ],
    [
      { 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL' },
      /ssl.keystore.location: is required for an SSL or SASL_SSL listener/,
    ],
    [
      { 'listener.security.protocol.map': 'PLAINTEXT:SSL,CONTROLLER:PLAINTEXT' },
      /ssl.keystore.location: is required for an SSL or SASL_SSL listener/,
    ],
    [
      { 'listener.name.internal.ssl.keystore.location': '/etc/keystore.pem' },
      /listener.name.internal.ssl.keystore.location: names listener 'internal', which is not in 'listeners'/,
    ],
    [
      { listeners: 'CLIENT://:9092,CONTROLLER://:9192' },
      /listener.security.protocol.map: listener CLIENT has no security protocol; add CLIENT:PLAINTEXT/,
    ],
    [{ 'listener.security.protocol.map': 'PLAINTEXT:TLS' }, /'TLS' in 'PLAINTEXT:TLS' is not one of/],
    [
      { 'inter.broker.listener.name': 'CONTROLLER' },
      /inter.broker.listener.name: CONTROLLER is a controller listener/,
    ],
    [
      { 'inter.broker.listener.name': 'INTERNAL' },
      /inter.broker.listener.name: INTERNAL is not one of the advertised/,
    ],
    [
      { 'inter.broker.listener.name': 'PLAINTEXT', 'security.inter.broker.protocol': 'PLAINTEXT' },
      /cannot be set together with security.inter.broker.protocol/,
    ],
    [{ 'log.segment.bytes': 'big' }, /log.segment.bytes/],
    [{ 'log.dirs': undefined }, /log.dirs: is required/],
    [{ listeners: 'PLAINTEXT:9092' }, /listeners: 'PLAINTEXT:9092' is not NAME:\/\/host:port/],
    [{ 'controller.quorum.voters': '2@h:1' }, /controller.quorum.voters: node.id 1 is not among the voters/],
    [{ 'controller.quorum.voters': '1@h' }, /controller.quorum.voters: '1@h'/],
    [{ 'process.roles': 'broker' }, /process.roles: every Gregor node must include the controller role/],
    [{ 'process.roles': 'leader' }, /process.roles: must list broker and\/or controller/],
    [{ 'cluster.id': 'a b' }, /cluster.id: must be/],
    [
      { 'controller.quorum.voters': '1@h:0,2@h:0' },
      /controller.quorum.voters: voter 2 has port 0, which needs gregor.controller.quorum.voters.file/,
    ],
    [
      { 'group.min.session.timeout.ms': '10000', 'group.max.session.timeout.ms': '9000' },
      /group.min.session.timeout.ms: must not be above group.max.session.timeout.ms/,
    ],
    [
      { 'group.consumer.session.timeout.ms': '30000' },
      /group.consumer.session.timeout.ms: must be greater than or equal to group.consumer.min.session.timeout.ms/,
    ],
    [
      { 'group.consumer.session.timeout.ms': '90000' },
      /group.consumer.session.timeout.ms: must be less than or equal to group.consumer.max.session.timeout.ms/,
    ],
    [
      { 'group.consumer.min.session.timeout.ms': '50000', 'group.consumer.max.session.timeout.ms': '40000' },
      /group.consumer.max.session.timeout.ms: must be greater than or equal to group.consumer.min.session.timeout.ms/,
    ],
    [
      { 'group.consumer.heartbeat.interval.ms': '1000' },
      /group.consumer.heartbeat.interval.ms: must be greater than or equal to group.consumer.min.heartbeat.interval.ms/,
    ],
    [
      { 'group.consumer.heartbeat.interval.ms': '20000' },
      /group.consumer.heartbeat.interval.ms: must be less than or equal to group.consumer.max.heartbeat.interval.ms/,
    ],
    [
      {
        'group.consumer.min.heartbeat.interval.ms': '9000',
        'group.consumer.max.heartbeat.interval.ms': '8000',
      },
      /group.consumer.max.heartbeat.interval.ms: must be greater than or equal to group.consumer.min.heartbeat.interval.ms/,
    ],
    [
      {
        'group.consumer.min.session.timeout.ms': '1000',
        'group.consumer.session.timeout.ms': '5000',
        'group.consumer.min.heartbeat.interval.ms': '1000',
      },
      /group.consumer.heartbeat.interval.ms: must be less than group.consumer.session.timeout.ms/,
    ],
    [{ 'group.consumer.max.size': '0' }, /group.consumer.max.size/],
  ])('refuses %o naming the key', (overrides, message) => {
    expect(() => config(overrides)).toThrow(message);
  });

  it('takes port 0 for listeners and voters: ports bound at start-up, peers from the voters file', () => {
    const parsed = config({
      listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'controller.quorum.voters': '1@127.0.0.1:0,2@127.0.0.1:0',
      'gregor.controller.quorum.voters.file': '/tmp/voters',
    });
    expect(parsed.kafkaListeners).toEqual([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0 }]);
    expect(parsed.controllerListener).toEqual({ name: 'CONTROLLER', host: '127.0.0.1', port: 0 });
    expect(parsed.voters).toEqual([
      { id: 1, host: '127.0.0.1', port: 0 },
      { id: 2, host: '127.0.0.1', port: 0 },
    ]);
    expect(parsed.settings.controllerQuorumVotersFile).toBe('/tmp/voters');
    // A single node needs no file: its own port 0 is its bound CONTROLLER port.
    expect(config({ 'controller.quorum.voters': '1@127.0.0.1:0' }).voters).toEqual([
      { id: 1, host: '127.0.0.1', port: 0 },
    ]);
  });

  it('reads a properties file and lets GREGOR_CFG_ variables override it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-config-'));
    const file = join(dir, 'server.properties');
    writeFileSync(
      file,
      Object.entries(minimal)
        .map(([key, value]) => `${key}=${value}`)
        .join('\n'),
    );
    const parsed = loadBrokerConfig(file, { GREGOR_CFG_NUM_PARTITIONS: '6' });
    expect(parsed.settings.numPartitions).toBe(6);
    expect(parsed.explicitKeys.has('num.partitions')).toBe(true);
  });

  // The environment of kafka-2 in apache/kafka's docker/examples cluster/combined/plaintext compose file.
  const kafkaComposeEnvironment = {
    KAFKA_NODE_ID: '2',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT',
    KAFKA_CONTROLLER_QUORUM_VOTERS: '1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093',
    KAFKA_LISTENERS: 'PLAINTEXT://:19092,CONTROLLER://:9093,PLAINTEXT_HOST://:9092',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
    KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://kafka-2:19092,PLAINTEXT_HOST://localhost:39092',
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    CLUSTER_ID: '4L6g3nShT-eMCtK--X86sw',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_LOG_DIRS: '/tmp/kraft-combined-logs',
  };

  it("starts from the environment of apache/kafka's own compose example, unchanged", () => {
    const parsed = loadBrokerConfig(undefined, {
      ...kafkaComposeEnvironment,
      KAFKA_HEAP_OPTS: '-Xmx1G',
      KAFKA_JMX_PORT: '9101',
      PATH: '/usr/bin',
    });
    expect(parsed.settings.nodeId).toBe(2);
    expect(parsed.settings.clusterId).toBe('4L6g3nShT-eMCtK--X86sw');
    expect(parsed.kafkaListeners.map((listener) => listener.name)).toEqual(['PLAINTEXT', 'PLAINTEXT_HOST']);
    // Gregor's internal gRPC serves on the listener named CONTROLLER, as Kafka's controller does.
    expect(parsed.controllerListener).toEqual({ name: 'CONTROLLER', host: '', port: 9093 });
    expect(parsed.advertisedListeners).toEqual([
      { name: 'PLAINTEXT', host: 'kafka-2', port: 19092 },
      { name: 'PLAINTEXT_HOST', host: 'localhost', port: 39092 },
    ]);
    expect(parsed.voters.map((voter) => `${voter.id}@${voter.host}:${voter.port}`)).toEqual([
      '1@kafka-1:9093',
      '2@kafka-2:9093',
      '3@kafka-3:9093',
    ]);
    expect(parsed.settings.offsetsTopicReplicationFactor).toBe(1);
    expect(parsed.settings.groupInitialRebalanceDelayMs).toBe(0);
    expect(parsed.log.logDirs).toEqual(['/tmp/kraft-combined-logs']);
    expect(parsed.ignoredEnvironmentVariables.map((variable) => variable.name)).toEqual([
      'KAFKA_HEAP_OPTS',
      'KAFKA_JMX_PORT',
    ]);
  });

  it('lets KAFKA_ variables override the file and GREGOR_CFG_ variables override both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-config-'));
    const file = join(dir, 'server.properties');
    writeFileSync(
      file,
      [...Object.entries(minimal), ['num.partitions', '2'], ['default.replication.factor', '2']]
        .map(([key, value]) => `${key}=${value}`)
        .join('\n'),
    );
    const parsed = loadBrokerConfig(file, {
      KAFKA_NUM_PARTITIONS: '3',
      GREGOR_CFG_NUM_PARTITIONS: '6',
      KAFKA_DEFAULT_REPLICATION_FACTOR: '1',
    });
    expect(parsed.settings.numPartitions).toBe(6);
    expect(parsed.settings.defaultReplicationFactor).toBe(1);
  });

  it('names the environment variable a refused key came from', () => {
    expect(
      problemsOf(() =>
        loadBrokerConfig(undefined, {
          ...kafkaComposeEnvironment,
          KAFKA_LOG_RETENSION_HOURS: '24',
          KAFKA_NUM_PARTITIONS: 'three',
          KAFKA_CLEANUP_POLICY: 'compact',
        }),
      ),
    ).toEqual([
      'cleanup.policy: unknown configuration key (from environment variable KAFKA_CLEANUP_POLICY)',
      "log.retension.hours: unknown configuration key; did you mean 'log.retention.hours'? (from environment variable KAFKA_LOG_RETENSION_HOURS)",
      "num.partitions: expected an integer, got 'three' (from environment variable KAFKA_NUM_PARTITIONS)",
    ]);
  });

  it('refuses CLUSTER_ID and KAFKA_CLUSTER_ID that disagree', () => {
    expect(
      problemsOf(() =>
        loadBrokerConfig(undefined, { ...kafkaComposeEnvironment, KAFKA_CLUSTER_ID: 'other' }),
      ),
    ).toEqual(['cluster.id: set to different values by CLUSTER_ID and KAFKA_CLUSTER_ID']);
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadBrokerConfig('/nonexistent/server.properties', {})).toThrow(/--config: cannot read/);
  });

  it('reports every bad key of a file at once, with a suggestion for each misspelt one', () => {
    const problems = problemsOf(() =>
      config({
        'log.retension.hours': '24',
        'num.netwrok.threads': '3',
        'socket.send.buffer.bytes': 'big',
        'num.io.threads': '8.5',
        'zookeeper.connect': 'localhost:2181',
        'entirely.made.up.setting': 'x',
        'gregor.no.such.key': '9100',
      }),
    );
    expect(problems).toEqual([
      "log.retension.hours: unknown configuration key; did you mean 'log.retention.hours'?",
      "num.netwrok.threads: unknown configuration key; did you mean 'num.network.threads'?",
      "num.io.threads: expected a 32-bit integer, got '8.5'",
      'entirely.made.up.setting: unknown configuration key',
      'gregor.no.such.key: unknown configuration key',
      "socket.send.buffer.bytes: expected an integer, got 'big'",
    ]);
  });

  it('accepts Kafka keys that do nothing here, and says which and why', () => {
    const parsed = config({
      'num.network.threads': '3',
      'zookeeper.connect': 'localhost:2181',
      'ssl.keystore.password': 'secret',
      'listener.name.plaintext.ssl.keystore.location': '/etc/keystore.jks',
      'ssl.cipher.suites': 'TLS_AES_128_GCM_SHA256',
      'inter.broker.listener.name': 'PLAINTEXT',
      'broker.id': '1',
    });
    const reasons = Object.fromEntries(parsed.keysWithoutEffect.map(({ key, reason }) => [key, reason]));
    expect(Object.keys(reasons).sort()).toEqual([
      'broker.id',
      'inter.broker.listener.name',
      'listener.name.plaintext.ssl.keystore.location',
      'num.network.threads',
      'ssl.cipher.suites',
      'ssl.keystore.password',
      'zookeeper.connect',
    ]);
    expect(reasons['num.network.threads']).toMatch(/one Node.js event loop/);
    expect(reasons['zookeeper.connect']).toMatch(/KRaft only/);
    expect(reasons['ssl.keystore.password']).toMatch(/no listener it applies to is SSL or SASL_SSL/);
    expect(reasons['ssl.cipher.suites']).toMatch(/OpenSSL/);
    // DescribeConfigs leaves them out, and lists what is in force.
    const described = new Map(describedBrokerSettings(parsed).map((entry) => [entry.name, entry]));
    for (const key of Object.keys(reasons)) expect(described.has(key)).toBe(false);
    expect(described.get('socket.send.buffer.bytes')).toEqual({
      name: 'socket.send.buffer.bytes',
      value: '102400',
      source: 'default',
      type: 'int',
      documentation: 'SO_SNDBUF of client connections (-1: the OS default).',
    });
    expect(described.get('node.id')).toMatchObject({ value: '1', source: 'static-broker-config' });
    expect(described.get('log.dirs')).toMatchObject({ value: '/tmp/gregor-a,/tmp/gregor-b' });
  });

  it('reads the timestamp bounds of KIP-937 as topic defaults, and names the removed difference key', () => {
    const parsed = config({
      'log.message.timestamp.before.max.ms': '86400000',
      'log.message.timestamp.after.max.ms': '9223372036854775807',
      'log.message.timestamp.difference.max.ms': '1000',
    });
    expect(parsed.log.defaults.messageTimestampBeforeMaxMs).toBe(86_400_000);
    expect(parsed.log.defaults.messageTimestampAfterMaxMs).toBe(Number.MAX_SAFE_INTEGER);
    expect(parsed.keysWithoutEffect).toEqual([
      {
        key: 'log.message.timestamp.difference.max.ms',
        reason: expect.stringMatching(/Kafka 4.0 removed it/),
      },
    ]);
    const described = new Map(describedBrokerSettings(parsed).map((entry) => [entry.name, entry]));
    expect(described.get('log.message.timestamp.before.max.ms')).toMatchObject({ value: '86400000' });
    expect(described.has('log.message.timestamp.difference.max.ms')).toBe(false);
    // Kafka's defaults when absent: no bound on the past, one hour on the future (Kafka 4).
    expect(config({}).log.defaults).toMatchObject({
      messageTimestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
      messageTimestampAfterMaxMs: 3_600_000,
    });
    expect(() => config({ 'log.message.timestamp.after.max.ms': '-1' })).toThrow(
      /log.message.timestamp.after.max.ms/,
    );
  });

  it('reads the keys Gregor acts on: memory pool, socket buffers, rack, protocol map', () => {
    const parsed = config({
      'queued.max.request.bytes': '-1',
      'socket.send.buffer.bytes': '65536',
      'socket.receive.buffer.bytes': '-1',
      'broker.rack': 'eu-west-1a',
      'listener.security.protocol.map': 'CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      listeners: 'CLIENT://:9092,CONTROLLER://:9192',
      'log.retention.hours': '5',
      'compression.type': 'zstd',
    });
    expect(parsed.settings.queuedMaxRequestBytes).toBe(-1);
    expect(parsed.settings.socketSendBufferBytes).toBe(65536);
    expect(parsed.settings.socketReceiveBufferBytes).toBe(-1);
    expect(parsed.settings.brokerRack).toBe('eu-west-1a');
    expect([...parsed.listenerSecurityProtocols]).toEqual([
      ['CLIENT', 'PLAINTEXT'],
      ['CONTROLLER', 'PLAINTEXT'],
    ]);
    expect(parsed.log.defaults.retentionMs).toBe(5 * 3_600_000);
    expect(parsed.log.defaults.compressionType).toBe('zstd');
    expect(parsed.keysWithoutEffect).toEqual([]);
    // Defaults: a bounded request memory pool, Kafka's socket buffer sizes.
    expect(config().settings.queuedMaxRequestBytes).toBe(256 * 1024 * 1024);
    expect(config().settings.socketReceiveBufferBytes).toBe(102400);
  });

  it('max.incremental.fetch.session.cache.slots takes effect: 1000 by default, 0 allowed, negative refused', () => {
    expect(config().settings.maxIncrementalFetchSessionCacheSlots).toBe(1000);
    const parsed = config({ 'max.incremental.fetch.session.cache.slots': '0' });
    expect(parsed.settings.maxIncrementalFetchSessionCacheSlots).toBe(0);
    expect(parsed.keysWithoutEffect).toEqual([]);
    expect(problemsOf(() => config({ 'max.incremental.fetch.session.cache.slots': '-1' }))).toEqual([
      expect.stringContaining('max.incremental.fetch.session.cache.slots'),
    ]);
  });

  it.each([
    ['kafka-3.9-kraft-server.properties', {}],
    ['kafka-4.0-server.properties', { GREGOR_CFG_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093' }],
  ])("accepts Kafka's own sample %s", (file, env) => {
    const parsed = loadBrokerConfig(join(fixtures, file), { GREGOR_CFG_CLUSTER_ID: 'sample', ...env });
    expect(parsed.settings.nodeId).toBe(1);
    expect(parsed.kafkaListeners).toEqual([{ name: 'PLAINTEXT', host: '', port: 9092 }]);
    expect(parsed.log.defaults.retentionMs).toBe(168 * 3_600_000);
    expect(parsed.settings.socketSendBufferBytes).toBe(102400);
    const withoutEffect = parsed.keysWithoutEffect.map(({ key }) => key);
    expect(withoutEffect).toEqual(
      expect.arrayContaining([
        'num.network.threads',
        'num.io.threads',
        'num.recovery.threads.per.data.dir',
        'transaction.state.log.min.isr',
        'share.coordinator.state.topic.replication.factor',
        'inter.broker.listener.name',
      ]),
    );
    for (const effective of [
      'socket.send.buffer.bytes',
      'log.retention.hours',
      'listener.security.protocol.map',
    ]) {
      expect(withoutEffect).not.toContain(effective);
    }
  });

  it('reads the KIP-848 group size and timeout bounds and the offsets retention as settings, not as keys without effect', () => {
    const parsed = config({
      'group.consumer.max.size': '7',
      'group.consumer.min.session.timeout.ms': '10000',
      'group.consumer.session.timeout.ms': '10000',
      'group.consumer.max.session.timeout.ms': '20000',
      'group.consumer.min.heartbeat.interval.ms': '1000',
      'group.consumer.heartbeat.interval.ms': '2000',
      'group.consumer.max.heartbeat.interval.ms': '3000',
      'group.consumer.migration.policy': 'disabled',
      'offsets.retention.minutes': '30',
      'offsets.retention.check.interval.ms': '5000',
    });
    expect(parsed.settings).toMatchObject({
      groupConsumerMaxSize: 7,
      groupConsumerMinSessionTimeoutMs: 10000,
      groupConsumerSessionTimeoutMs: 10000,
      groupConsumerMaxSessionTimeoutMs: 20000,
      groupConsumerMinHeartbeatIntervalMs: 1000,
      groupConsumerHeartbeatIntervalMs: 2000,
      groupConsumerMaxHeartbeatIntervalMs: 3000,
      offsetsRetentionMinutes: 30,
      offsetsRetentionCheckIntervalMs: 5000,
    });
    expect(parsed.keysWithoutEffect.map(({ key }) => key)).toEqual(['group.consumer.migration.policy']);
    // Kafka's defaults hold each other: 45000 <= 45000 <= 60000 and 5000 <= 5000 <= 15000.
    expect(config({}).settings).toMatchObject({
      groupConsumerMaxSize: 1000,
      groupConsumerMinSessionTimeoutMs: 45000,
      groupConsumerMaxSessionTimeoutMs: 60000,
      groupConsumerMinHeartbeatIntervalMs: 5000,
      groupConsumerMaxHeartbeatIntervalMs: 15000,
      offsetsRetentionMinutes: 10080,
      offsetsRetentionCheckIntervalMs: 600000,
    });
  });

  it('reads the transactional id expiration and its cleanup interval as settings: positive ints, as Kafka', () => {
    const parsed = config({
      'transactional.id.expiration.ms': '3000',
      'transaction.remove.expired.transaction.cleanup.interval.ms': '1000',
    });
    expect(parsed.settings).toMatchObject({
      transactionalIdExpirationMs: 3000,
      transactionRemoveExpiredTransactionCleanupIntervalMs: 1000,
    });
    expect(parsed.keysWithoutEffect).toEqual([]);
    expect(config().settings).toMatchObject({
      transactionalIdExpirationMs: 604_800_000,
      transactionRemoveExpiredTransactionCleanupIntervalMs: 3_600_000,
    });
    for (const key of [
      'transactional.id.expiration.ms',
      'transaction.remove.expired.transaction.cleanup.interval.ms',
    ]) {
      expect(problemsOf(() => config({ [key]: '0' }))).toEqual([expect.stringContaining(key)]);
      expect(problemsOf(() => config({ [key]: '2147483648' }))).toEqual([expect.stringContaining(key)]);
    }
  });

  it('reads transaction.partition.verification.enable (KIP-890 part 1): on by default, as in Kafka 3.6+', () => {
    expect(config().settings.transactionPartitionVerificationEnable).toBe(true);
    const off = config({ 'transaction.partition.verification.enable': 'false' });
    expect(off.settings.transactionPartitionVerificationEnable).toBe(false);
    expect(off.keysWithoutEffect).toEqual([]);
    expect(problemsOf(() => config({ 'transaction.partition.verification.enable': 'maybe' }))).toEqual([
      expect.stringContaining('transaction.partition.verification.enable'),
    ]);
  });

  it('names the missing static quorum of a 4.0 sample file', () => {
    expect(problemsOf(() => loadBrokerConfig(join(fixtures, 'kafka-4.0-server.properties'), {}))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^controller.quorum.voters: is required/)]),
    );
  });

  it('reads the connection limits, per listener too, and refuses what Kafka refuses', () => {
    const parsed = config({
      listeners: 'PLAINTEXT://:9092,SLOW://:9093,CONTROLLER://:9192',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SLOW:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'max.connections': '500',
      'max.connections.per.ip': '20',
      'max.connections.per.ip.overrides': '10.0.0.1:5, ::ffff:10.0.0.2:0,0:0:0:0:0:0:0:1:100',
      'max.connection.creation.rate': '50',
      'listener.name.slow.max.connection.creation.rate': '2',
      'listener.name.slow.max.connections': '7',
    });
    expect(parsed.connectionLimits).toEqual({
      maxConnections: 500,
      maxConnectionsPerIp: 20,
      maxConnectionsPerIpOverrides: new Map([
        ['10.0.0.1', 5],
        ['10.0.0.2', 0],
        ['::1', 100],
      ]),
      maxConnectionCreationRate: 50,
      listenerMaxConnections: new Map([['SLOW', 7]]),
      listenerMaxConnectionCreationRate: new Map([['SLOW', 2]]),
    });
    // They take effect, so none is logged as without effect.
    expect(parsed.keysWithoutEffect.map(({ key }) => key)).toEqual([]);
    expect(config().connectionLimits.maxConnectionsPerIp).toBe(2_147_483_647);

    expect(problemsOf(() => config({ 'max.connections.per.ip.overrides': 'broker-host:5' }))).toEqual([
      expect.stringContaining("'broker-host' in 'broker-host:5' is not an IP address"),
    ]);
    expect(problemsOf(() => config({ 'max.connections.per.ip.overrides': '10.0.0.1' }))).toEqual([
      expect.stringContaining("'10.0.0.1' is not ip:count"),
    ]);
    expect(problemsOf(() => config({ 'max.connections.per.ip': '0' }))).toEqual([
      expect.stringContaining('max.connections.per.ip.overrides must be set'),
    ]);
    expect(problemsOf(() => config({ 'listener.name.slow.max.connections': '3' }))).toEqual([
      expect.stringContaining("names listener 'slow', which is not in 'listeners'"),
    ]);
  });
});
