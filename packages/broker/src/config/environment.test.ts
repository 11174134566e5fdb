import { describe, expect, it } from 'vitest';
import { kafkaVariableToKey, settingsFromEnvironment } from './environment.js';

describe('kafkaVariableToKey (the apache/kafka image conversion)', () => {
  it.each([
    ['NODE_ID', 'node.id'],
    ['KEY', 'key'],
    ['LOG_DIRS', 'log.dirs'],
    ['CONTROLLER_QUORUM_VOTERS', 'controller.quorum.voters'],
    ['LISTENER_SECURITY_PROTOCOL_MAP', 'listener.security.protocol.map'],
    ['KEY__UNDERSCORE', 'key_underscore'],
    ['KEY_WITH__UNDERSCORE_AND__MORE', 'key.with_underscore.and_more'],
    ['KEY___DASH', 'key-dash'],
    ['KEY_WITH___DASH_AND___MORE__UNDERSCORE', 'key.with-dash.and-more_underscore'],
    ['WITH___DASH_AND_MORE', 'with-dash.and.more'],
    ['GREGOR_METRICS_PORT', 'gregor.metrics.port'],
    // The image finds single underscores by `[^_]_[^_]` without overlaps: one-letter words keep
    // every other underscore, exactly as there.
    ['A_B_C', 'a.b_c'],
  ])('%s is %s', (name, key) => {
    expect(kafkaVariableToKey(name)).toBe(key);
  });
});

describe('settingsFromEnvironment', () => {
  it('reads KAFKA_* and CLUSTER_ID as the apache/kafka image does, and GREGOR_CFG_*; ignores the rest', () => {
    const settings = settingsFromEnvironment({
      KAFKA_NODE_ID: '2',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:19092,CONTROLLER://:9093,PLAINTEXT_HOST://:9092',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://kafka-2:19092,PLAINTEXT_HOST://localhost:39092',
      CLUSTER_ID: '4L6g3nShT-eMCtK--X86sw',
      GREGOR_CFG_LOG_DIRS: '/data',
      GREGOR_DATA_DIR: '/x',
      PATH: '/bin',
      HOME: '/root',
    });
    expect(Object.fromEntries(settings.properties)).toEqual({
      'node.id': '2',
      'process.roles': 'broker,controller',
      listeners: 'PLAINTEXT://:19092,CONTROLLER://:9093,PLAINTEXT_HOST://:9092',
      'advertised.listeners': 'PLAINTEXT://kafka-2:19092,PLAINTEXT_HOST://localhost:39092',
      'cluster.id': '4L6g3nShT-eMCtK--X86sw',
      'log.dirs': '/data',
    });
    expect(settings.sources.get('node.id')).toBe('KAFKA_NODE_ID');
    expect(settings.sources.get('cluster.id')).toBe('CLUSTER_ID');
    expect(settings.sources.get('log.dirs')).toBe('GREGOR_CFG_LOG_DIRS');
    expect(settings.ignored).toEqual([]);
    expect(settings.conflicts).toEqual([]);
  });

  it('takes the GREGOR_CFG_ value when both conventions set a key', () => {
    const settings = settingsFromEnvironment({ KAFKA_NUM_PARTITIONS: '3', GREGOR_CFG_NUM_PARTITIONS: '6' });
    expect(settings.properties.get('num.partitions')).toBe('6');
    expect(settings.sources.get('num.partitions')).toBe('GREGOR_CFG_NUM_PARTITIONS');
  });

  it("ignores, with a reason, the variables the image's scripts read themselves", () => {
    const settings = settingsFromEnvironment({
      KAFKA_HEAP_OPTS: '-Xmx1G -Xms1G',
      KAFKA_OPTS: '-Dfoo=bar',
      KAFKA_JMX_PORT: '9101',
      KAFKA_JMX_HOSTNAME: 'localhost',
      KAFKA_JMX_OPTS: '-Dcom.sun.management.jmxremote',
      KAFKA_LOG4J_OPTS: '-Dlog4j.configuration=file:/x',
      KAFKA_LOG4J_ROOT_LOGLEVEL: 'WARN',
      KAFKA_VERSION: '3.9.0',
      KAFKA_HOME: '/opt/kafka',
      KAFKA_NODE_ID: '1',
    });
    expect(Object.fromEntries(settings.properties)).toEqual({ 'node.id': '1' });
    expect(Object.fromEntries(settings.ignored.map(({ name, reason }) => [name, reason]))).toEqual({
      KAFKA_HEAP_OPTS: expect.stringMatching(/JVM option.*Node\.js/),
      KAFKA_OPTS: expect.stringMatching(/JVM option/),
      KAFKA_JMX_PORT: expect.stringMatching(/gregor\.metrics\.port/),
      KAFKA_JMX_HOSTNAME: expect.stringMatching(/JVM option/),
      KAFKA_JMX_OPTS: expect.stringMatching(/JVM option/),
      KAFKA_LOG4J_OPTS: expect.stringMatching(/log4j.*GREGOR_LOG_LEVEL/),
      KAFKA_LOG4J_ROOT_LOGLEVEL: expect.stringMatching(/log4j/),
      KAFKA_VERSION: expect.stringMatching(/version/),
      KAFKA_HOME: expect.stringMatching(/installation directory/),
    });
  });

  it('reports CLUSTER_ID and KAFKA_CLUSTER_ID set to different values, not when they agree', () => {
    expect(settingsFromEnvironment({ CLUSTER_ID: 'a', KAFKA_CLUSTER_ID: 'b' }).conflicts).toEqual([
      { key: 'cluster.id', variables: ['CLUSTER_ID', 'KAFKA_CLUSTER_ID'] },
    ]);
    expect(settingsFromEnvironment({ CLUSTER_ID: 'a', KAFKA_CLUSTER_ID: 'a' }).conflicts).toEqual([]);
  });
});
