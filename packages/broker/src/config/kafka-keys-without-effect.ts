// Kafka keys that Gregor accepts but that change nothing here, and why. A stock server.properties
// must start a node, so such a key is accepted (its value still checked against Kafka's type) and
// named once in the start-up log with the reason below; DescribeConfigs does not list it.
// A key that Kafka does not have at all is refused elsewhere, with a suggestion.

import { distance } from 'fastest-levenshtein';
import { type KafkaKeyType, kafkaBrokerKeyTypes } from './kafka-broker-keys.js';

interface Rule {
  readonly matches: (key: string) => boolean;
  readonly reason: string;
}

const prefix =
  (...prefixes: string[]) =>
  (key: string) =>
    prefixes.some((start) => key.startsWith(start));
const oneOf =
  (...keys: string[]) =>
  (key: string) =>
    keys.includes(key);

/** First matching rule wins; the last one matches every key. */
const rules: readonly Rule[] = [
  {
    matches: (key) =>
      key.startsWith('zookeeper.') ||
      oneOf('broker.id.generation.enable', 'reserved.broker.max.id', 'control.plane.listener.name')(key),
    reason: 'it configures ZooKeeper mode; Gregor runs KRaft only',
  },
  {
    matches: oneOf('inter.broker.protocol.version', 'log.message.format.version'),
    reason: 'Gregor has one protocol version per API range and writes only RecordBatch v2 (magic 2)',
  },
  {
    matches: oneOf('log.message.timestamp.difference.max.ms'),
    reason:
      'Kafka 4.0 removed it (KIP-937, KAFKA-17997): log.message.timestamp.before.max.ms and log.message.timestamp.after.max.ms bound record timestamps',
  },
  {
    matches: oneOf('log.message.downconversion.enable'),
    reason: 'Gregor serves only RecordBatch v2 and never converts batches to older formats',
  },
  {
    matches: (key) => /^(listener\.name\.[^.]+\.)?ssl\.cipher\.suites$/.test(key),
    reason:
      "Java's cipher suite names do not map onto OpenSSL's; Node's TLS offers OpenSSL's default suites for the versions ssl.enabled.protocols names",
  },
  {
    matches: (key) =>
      /^(listener\.name\.[^.]+\.)?ssl\.(protocol|provider|keymanager\.algorithm|trustmanager\.algorithm|secure\.random\.implementation|engine\.factory\.class|allow\.(dn|san)\.changes)$/.test(
        key,
      ),
    reason:
      "it configures Java's JSSE (SSLContext, key and trust managers); Gregor's TLS is Node's OpenSSL, set by ssl.enabled.protocols and the keystore and truststore keys",
  },
  {
    matches: (key) =>
      prefix('ssl.', 'sasl.', 'listener.name.', 'password.encoder.')(key) ||
      oneOf(
        'security.providers',
        'security.inter.broker.protocol',
        'principal.builder.class',
        'connection.failed.authentication.delay.ms',
        'early.start.listeners',
      )(key),
    reason:
      "Gregor serves TLS, SASL PLAIN, SCRAM and OAUTHBEARER with unsecured JWTs from the keys it reads; this one belongs to what it does not serve (GSSAPI/Kerberos, OAUTHBEARER with JWKS or token endpoints, Java principal builders and security providers), or to the Java broker's inter-broker listener, where Gregor's brokers talk gRPC on the CONTROLLER listener (map it to SSL)",
  },
  {
    matches: (key) =>
      key.endsWith('.threads') ||
      key.endsWith('.thread.pool.size') ||
      oneOf('num.recovery.threads.per.data.dir', 'num.replica.fetchers')(key),
    reason: 'Gregor runs on one Node.js event loop; there is no thread pool to size',
  },
  {
    matches: (key) =>
      (prefix('metrics.', 'kafka.metrics.')(key) &&
        !oneOf('metrics.sample.window.ms', 'metrics.num.samples')(key)) ||
      oneOf('metric.reporters', 'auto.include.jmx.reporter', 'telemetry.max.bytes')(key),
    reason:
      'Gregor serves Prometheus metrics itself (gregor.metrics.port) and has no pluggable reporters (JMX reporters are JVM plug-ins)',
  },
  {
    matches: prefix('remote.', 'log.local.retention.', 'rlmm.config.', 'rsm.config.'),
    reason: 'tiered storage is not implemented: every segment stays on local disk',
  },
  {
    matches: (key) =>
      prefix('transaction.', 'transactional.', 'add.partitions.to.txn.')(key) &&
      !oneOf(
        'transaction.state.log.num.partitions',
        'transaction.state.log.replication.factor',
        'transaction.state.log.segment.bytes',
        'transaction.max.timeout.ms',
        'transactional.id.expiration.ms',
        'transaction.remove.expired.transaction.cleanup.interval.ms',
        'transaction.partition.verification.enable',
      )(key),
    reason:
      'the transaction coordinator follows transaction.state.log.num.partitions, .replication.factor, .segment.bytes, transaction.max.timeout.ms, transactional.id.expiration.ms, transaction.remove.expired.transaction.cleanup.interval.ms and transaction.partition.verification.enable; it aborts a timed-out transaction at its deadline and serves transactions v1 and v2 (KIP-890) by request version',
  },
  {
    matches: prefix('share.', 'group.share.'),
    reason: 'share groups (KIP-932) are not implemented',
  },
  {
    matches: (key) =>
      (prefix('group.consumer.')(key) &&
        !oneOf(
          'group.consumer.assignors',
          'group.consumer.heartbeat.interval.ms',
          'group.consumer.min.heartbeat.interval.ms',
          'group.consumer.max.heartbeat.interval.ms',
          'group.consumer.session.timeout.ms',
          'group.consumer.min.session.timeout.ms',
          'group.consumer.max.session.timeout.ms',
          'group.consumer.max.size',
        )(key)) ||
      oneOf('group.coordinator.rebalance.protocols')(key),
    reason:
      'KIP-848 consumer groups follow group.consumer.assignors, .heartbeat.interval.ms and .session.timeout.ms (with their min/max bounds) and .max.size; both protocols are always on, the assignment is computed on every heartbeat that needs one (no .assignment.interval.ms), and there is no migration between classic and consumer groups nor per-group overrides',
  },
  {
    matches: prefix('group.streams.'),
    reason: 'streams groups (KIP-1071) are not implemented',
  },
  {
    matches: (key) => key.includes('quota.') && !oneOf('quota.window.num', 'quota.window.size.seconds')(key),
    reason:
      'of the quotas the client quotas (producer_byte_rate, consumer_byte_rate, request_percentage; quota.window.num, quota.window.size.seconds) and the connection limits are enforced; replication quotas and quota callbacks are not',
  },
  {
    matches: (key) => key.endsWith('.policy.class.name') || oneOf('replica.selector.class')(key),
    reason: 'it names a Java plug-in class, which Gregor cannot load',
  },
  {
    matches: (key) => key.endsWith('.purgatory.purge.interval.requests'),
    reason: 'Gregor drops a delayed operation as soon as it completes; there is nothing to purge',
  },
  {
    matches: oneOf('controller.quorum.bootstrap.servers'),
    reason:
      'Gregor runs a static quorum from controller.quorum.voters (dynamic quorums, KIP-853, are not supported)',
  },
  {
    matches: prefix('metadata.log.', 'metadata.max.', 'controller.'),
    reason: "Gregor's metadata quorum has fixed settings for this",
  },
  { matches: () => true, reason: 'Gregor does not implement this setting yet' },
];

export function withoutEffectReason(key: string): string {
  return rules.find((rule) => rule.matches(key))!.reason;
}

/**
 * The type of a Kafka key, including Kafka's prefixed forms: `listener.name.<listener>.<key>` and
 * `listener.name.<listener>.<sasl mechanism>.<key>` (per-listener security settings), and the
 * `rlmm.config.` / `rsm.config.` pass-through prefixes of tiered storage plug-ins.
 */
export function kafkaKeyType(key: string): KafkaKeyType | undefined {
  const documented = kafkaBrokerKeyTypes.get(key);
  if (documented !== undefined) return documented;
  const perListener = /^listener\.name\.[a-z0-9_]+\.(.+)$/.exec(key);
  if (perListener !== null) {
    const rest = perListener[1]!;
    const inner = kafkaBrokerKeyTypes.get(rest);
    if (inner !== undefined) return inner;
    // listener.name.<listener>.<mechanism>.sasl.jaas.config and the like: the mechanism part is free.
    const afterMechanism = /^[a-z0-9_-]+\.(.+)$/.exec(rest);
    if (afterMechanism !== null) return kafkaBrokerKeyTypes.get(afterMechanism[1]!);
  }
  if (key.startsWith('rlmm.config.') || key.startsWith('rsm.config.')) return 'string';
  return undefined;
}

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** Checks a value against Kafka's parsing of its type; returns what is wrong, or undefined. */
export function checkKafkaValue(type: KafkaKeyType, raw: string): string | undefined {
  const text = raw.trim();
  const integerIn = (min: bigint, max: bigint, name: string) => {
    if (!/^[-+]?\d+$/.test(text)) return `expected ${name}, got '${raw}'`;
    const value = BigInt(text);
    return value < min || value > max ? `'${raw}' does not fit ${name}` : undefined;
  };
  switch (type) {
    case 'boolean':
      return /^(true|false)$/i.test(text) ? undefined : `expected true or false, got '${raw}'`;
    case 'short':
      return integerIn(-(2n ** 15n), 2n ** 15n - 1n, 'a 16-bit integer');
    case 'int':
      return integerIn(-(2n ** 31n), 2n ** 31n - 1n, 'a 32-bit integer');
    case 'long':
      return integerIn(int64Min, int64Max, 'a 64-bit integer');
    case 'double':
      return text !== '' && Number.isFinite(Number(text)) ? undefined : `expected a number, got '${raw}'`;
    case 'string':
    case 'password':
    case 'list':
    case 'class':
      return undefined;
  }
}

/** The closest known key to a misspelt one, if it is close enough to be a likely typo. */
export function suggestKey(key: string, knownKeys: Iterable<string>): string | undefined {
  const distanceMax = Math.max(2, Math.floor(key.length / 5));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of knownKeys) {
    const d = distance(key, candidate);
    if (d <= distanceMax && (best === undefined || d < best.distance)) best = { key: candidate, distance: d };
  }
  return best?.key;
}
