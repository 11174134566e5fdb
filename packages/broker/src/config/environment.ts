// Settings from the environment, for containers, in two conventions:
//
//   - the apache/kafka image's: `KAFKA_<KEY>` with the key upper-cased, `.` written `_`, `_` written
//     `__` and `-` written `___` (KAFKA_LOG_DIRS=/data is log.dirs, KAFKA_FOO__BAR is foo_bar,
//     KAFKA_FOO___BAR is foo-bar), plus CLUSTER_ID for cluster.id, so a compose file written for
//     apache/kafka starts Gregor unchanged. The conversion is the image's own (its `utility`
//     program's ConvertKey), quirks included: single underscores are found by the pattern
//     `[^_]_[^_]` without overlaps, so in KAFKA_A_B_C only the first becomes a dot (`a.b_c`), as
//     there. The variables the image and Kafka's start scripts read themselves (JVM options, log4j,
//     JMX, the image's TLS file names) are not settings: they are ignored, each named in a log line
//     saying why, as the image's render step leaves them out of server.properties.
//   - Gregor's own: `GREGOR_CFG_<KEY>` with every `_` a dot (GREGOR_CFG_LOG_DIRS=/data).
//
// A key set both ways takes the GREGOR_CFG_ value (the more specific one); both override the file.

/** Gregor's own prefix: `GREGOR_CFG_NODE_ID=1` sets node.id. */
export const gregorEnvironmentPrefix = 'GREGOR_CFG_';
/** The apache/kafka image's prefix: `KAFKA_NODE_ID=1` sets node.id. */
export const kafkaEnvironmentPrefix = 'KAFKA_';
/** The apache/kafka image formats its storage with this cluster id; here it is cluster.id. */
export const clusterIdVariable = 'CLUSTER_ID';

const jvmReason =
  "a JVM option that Kafka's start scripts pass to java; Gregor runs on Node.js (NODE_OPTIONS sets its options)";
const log4jReason =
  "Kafka's log4j setting; Gregor logs JSON lines through pino (GREGOR_LOG_LEVEL and GREGOR_LOG_FORMAT set them)";
const tlsFileReason =
  "a file name (or a file holding a password) the apache/kafka image's scripts turn into a TLS setting under /etc/kafka/secrets; Gregor reads the ssl.* keys themselves (KAFKA_SSL_KEYSTORE_LOCATION, KAFKA_SSL_KEYSTORE_PASSWORD, ...)";

/**
 * Variables with the KAFKA_ prefix that the apache/kafka image or Kafka's start scripts read
 * themselves: the image's render step excludes them from server.properties (its
 * kafka-propertiesSpec.json: KAFKA_VERSION, KAFKA_HEAP_OPT (sic), KAFKA_LOG4J_OPTS, KAFKA_OPTS,
 * KAFKA_JMX_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_GC_LOG_OPTS, KAFKA_LOG4J_ROOT_LOGLEVEL,
 * KAFKA_LOG4J_LOGGERS, KAFKA_TOOLS_LOG4J_LOGLEVEL), or its launch and configure scripts and
 * kafka-run-class.sh consume them (the rest here).
 */
export const kafkaScriptVariables: ReadonlyMap<string, string> = new Map([
  ['KAFKA_VERSION', "the image's Kafka version, not a setting"],
  // Set in the shells of people who have Kafka installed; a start must not fail because of it.
  ['KAFKA_HOME', 'a Kafka installation directory (shells and images set it), not a setting'],
  ['KAFKA_HEAP_OPTS', jvmReason],
  ['KAFKA_HEAP_OPT', jvmReason],
  [
    'KAFKA_OPTS',
    `${jvmReason}; only its -Djava.security.auth.login.config=<file> is read, for the JAAS file's SASL users`,
  ],
  ['KAFKA_JVM_PERFORMANCE_OPTS', jvmReason],
  ['KAFKA_GC_LOG_OPTS', jvmReason],
  ['KAFKA_JMX_OPTS', jvmReason],
  ['KAFKA_JMX_PORT', `${jvmReason}; Gregor's metrics are served over HTTP (gregor.metrics.port)`],
  ['KAFKA_JMX_HOSTNAME', `${jvmReason}; Gregor's metrics are served over HTTP (gregor.metrics.port)`],
  ['KAFKA_DEBUG', `${jvmReason} (node --inspect is Node.js's debugger)`],
  ['KAFKA_LOG4J_OPTS', log4jReason],
  ['KAFKA_LOG4J_ROOT_LOGLEVEL', log4jReason],
  ['KAFKA_LOG4J_LOGGERS', log4jReason],
  ['KAFKA_TOOLS_LOG4J_LOGLEVEL', log4jReason],
  ['KAFKA_SSL_KEYSTORE_FILENAME', tlsFileReason],
  ['KAFKA_SSL_KEYSTORE_CREDENTIALS', tlsFileReason],
  ['KAFKA_SSL_KEY_CREDENTIALS', tlsFileReason],
  ['KAFKA_SSL_TRUSTSTORE_FILENAME', tlsFileReason],
  ['KAFKA_SSL_TRUSTSTORE_CREDENTIALS', tlsFileReason],
]);

/**
 * The apache/kafka image's conversion of a variable name (without its prefix) to a key: single
 * underscores become dots, then `___` a dash and `__` an underscore, then lower case.
 */
export function kafkaVariableToKey(name: string): string {
  return name
    .replace(/[^_]_[^_]/g, (match) => match.replaceAll('_', '.'))
    .replaceAll('___', '-')
    .replaceAll('__', '_')
    .toLowerCase();
}

/** Gregor's conversion: every underscore a dot, lower case. */
export function gregorVariableToKey(name: string): string {
  return name.toLowerCase().replaceAll('_', '.');
}

export interface IgnoredVariable {
  readonly name: string;
  readonly reason: string;
}

export interface EnvironmentSettings {
  /** Keys and values, the GREGOR_CFG_ value where both conventions set a key. */
  readonly properties: ReadonlyMap<string, string>;
  /** The variable each key was taken from, so a refusal can name it. */
  readonly sources: ReadonlyMap<string, string>;
  /** KAFKA_ variables that are not settings, with why they are ignored. */
  readonly ignored: readonly IgnoredVariable[];
  /** Two variables that set one key to different values in one convention (CLUSTER_ID and KAFKA_CLUSTER_ID). */
  readonly conflicts: readonly { readonly key: string; readonly variables: readonly string[] }[];
}

export function settingsFromEnvironment(env: NodeJS.ProcessEnv): EnvironmentSettings {
  const kafka = new Map<string, { variable: string; value: string }>();
  const gregor = new Map<string, { variable: string; value: string }>();
  const ignored: IgnoredVariable[] = [];
  const conflicts: { key: string; variables: string[] }[] = [];
  const setKafka = (key: string, variable: string, value: string) => {
    const earlier = kafka.get(key);
    if (earlier !== undefined && earlier.value !== value) {
      conflicts.push({ key, variables: [earlier.variable, variable].sort() });
    }
    kafka.set(key, { variable, value });
  };
  // Sorted, so which variable is named first does not depend on the environment's order.
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined) continue;
    if (name.startsWith(gregorEnvironmentPrefix)) {
      gregor.set(gregorVariableToKey(name.slice(gregorEnvironmentPrefix.length)), { variable: name, value });
    } else if (name === clusterIdVariable) {
      setKafka('cluster.id', name, value);
    } else if (name.startsWith(kafkaEnvironmentPrefix)) {
      const reason = kafkaScriptVariables.get(name);
      if (reason !== undefined) ignored.push({ name, reason });
      else setKafka(kafkaVariableToKey(name.slice(kafkaEnvironmentPrefix.length)), name, value);
    }
  }
  const properties = new Map<string, string>();
  const sources = new Map<string, string>();
  for (const [key, { variable, value }] of [...kafka, ...gregor]) {
    properties.set(key, value);
    sources.set(key, variable);
  }
  return { properties, sources, ignored, conflicts };
}
