// The SASL settings of each SASL_PLAINTEXT and SASL_SSL listener, from Kafka's keys:
//   sasl.enabled.mechanisms   (per listener: listener.name.<listener>.sasl.enabled.mechanisms)
//                              PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER; Kafka's default, GSSAPI
//                              (Kerberos), is not available here, so the key must be set.
//   sasl.jaas.config          PLAIN's users, `user_<name>="<password>"` options of a
//                              PlainLoginModule entry, from listener.name.<listener>.plain.sasl.jaas.config,
//                              else listener.name.<listener>.sasl.jaas.config, else sasl.jaas.config,
//                              else the JAAS file of -Djava.security.auth.login.config in KAFKA_OPTS
//                              (its `<listener>.KafkaServer` section, else `KafkaServer`), as Kafka's
//                              JaasContext falls back to the JVM's static JAAS configuration.
//   connections.max.reauth.ms  the longest a SASL authentication lasts (KIP-368): the broker tells
//                              the client (SaslAuthenticate session_lifetime_ms), the client
//                              re-authenticates on the same connection, and a connection that did
//                              not and sends anything else is closed. 0 (Kafka's default): never.
//                              As Kafka: listener.name.<listener>.<mechanism>.connections.max.reauth.ms,
//                              else listener.name.<listener>.connections.max.reauth.ms, else the key.
//   OAUTHBEARER               unsecured JWTs only (Kafka's default server callback handler,
//                              OAuthBearerUnsecuredValidatorCallbackHandler): the
//                              OAuthBearerLoginModule entry of listener.name.<listener>.oauthbearer.sasl.jaas.config
//                              (else listener.name.<listener>.sasl.jaas.config, else sasl.jaas.config,
//                              else the JAAS file) gives its unsecuredValidator* options. Any other
//                              sasl.server.callback.handler.class (JWKS validation), and any
//                              for PLAIN or SCRAM, is refused.
// SCRAM users are not configured here: their salted credentials live in the metadata log
// (AlterUserScramCredentials, `gregor users`).

import {
  type JaasEntry,
  type JaasFile,
  jaasFileEntry,
  parseJaasConfig,
  plainLoginModule,
  plainUsers,
} from '../security/jaas-config.js';
import {
  oauthBearerLoginModule,
  type UnsecuredJwtValidatorOptions,
  unsecuredJwtValidatorOptions,
} from '../security/unsecured-jwt.js';
import { ConfigError, ConfigProblems } from './config-def.js';
import { listenerSetting } from './listener-tls.js';

export const saslMechanismsSupported = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SaslMechanismName = (typeof saslMechanismsSupported)[number];

/** Kafka's default OAUTHBEARER server callback handler, the only one Gregor has. */
export const unsecuredValidatorCallbackHandlerClass =
  'org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler';

export interface ListenerSasl {
  readonly mechanisms: readonly SaslMechanismName[];
  /** PLAIN's users and passwords (empty when PLAIN is not enabled). */
  readonly plainUsers: ReadonlyMap<string, string>;
  /** OAUTHBEARER's unsecured JWT validation (undefined when OAUTHBEARER is not enabled). */
  readonly oauthBearer?: UnsecuredJwtValidatorOptions;
  /** connections.max.reauth.ms of each enabled mechanism; 0: sessions do not expire. */
  readonly connectionsMaxReauthMs: ReadonlyMap<SaslMechanismName, number>;
}

/** Whether Gregor acts on this key (listener prefix and mechanism part stripped). */
export function isSaslKeyWithEffect(key: string): boolean {
  return (
    key === 'sasl.enabled.mechanisms' ||
    key === 'sasl.jaas.config' ||
    key === 'connections.max.reauth.ms' ||
    key === 'sasl.server.callback.handler.class' ||
    /^listener\.name\.[^.]+\.(sasl\.enabled\.mechanisms|sasl\.jaas\.config|connections\.max\.reauth\.ms|[a-z0-9-]+\.(sasl\.jaas\.config|connections\.max\.reauth\.ms|sasl\.server\.callback\.handler\.class))$/.test(
      key,
    )
  );
}

/** The static JAAS configuration: the file KAFKA_OPTS names, read and parsed. */
export interface StaticJaasConfig {
  readonly path: string;
  readonly file: JaasFile;
}

/** The key a problem with the static JAAS file is reported under (the JVM property naming it). */
export const jaasFileConfigKey = 'java.security.auth.login.config';

/**
 * The entry of `loginModule` a listener takes from the static JAAS file, or a ConfigError saying
 * why there is none; undefined when there is no file or it has no section for the listener.
 */
function staticJaasEntry(
  jaas: StaticJaasConfig | undefined,
  listenerName: string,
  loginModule: string,
): JaasEntry | undefined {
  if (jaas === undefined) return undefined;
  const found = jaasFileEntry(jaas.file, listenerName, loginModule);
  if (found === undefined) return undefined;
  if (found.entry === undefined) {
    throw new ConfigError(
      jaasFileConfigKey,
      `section ${found.section} of ${jaas.path} has no ${loginModule} entry (listener ${listenerName})`,
    );
  }
  return found.entry;
}

export function listenerSasl(
  raw: ReadonlyMap<string, string>,
  listenerName: string,
  jaas?: StaticJaasConfig,
): ListenerSasl {
  const problems = new ConfigProblems();
  const setting = listenerSetting(raw, listenerName, 'sasl.enabled.mechanisms');
  const mechanisms: SaslMechanismName[] = [];
  if (setting === undefined) {
    throw new ConfigError(
      'sasl.enabled.mechanisms',
      `listener ${listenerName} is SASL, and Kafka's default mechanism GSSAPI (Kerberos) is not available; set ${saslMechanismsSupported.join(', ')}`,
    );
  }
  for (const name of setting.value.split(',').map((item) => item.trim().toUpperCase())) {
    if (name === '') continue;
    if (!(saslMechanismsSupported as readonly string[]).includes(name)) {
      problems.add(
        new ConfigError(
          setting.key,
          `${name} is not supported; Gregor offers ${saslMechanismsSupported.join(', ')}`,
        ),
      );
    } else if (!mechanisms.includes(name as SaslMechanismName)) {
      mechanisms.push(name as SaslMechanismName);
    }
  }
  if (mechanisms.length === 0 && problems.count === 0)
    problems.add(new ConfigError(setting.key, 'names no mechanism'));
  let users = new Map<string, string>();
  if (mechanisms.includes('PLAIN')) {
    const prefix = `listener.name.${listenerName.toLowerCase()}.`;
    const jaasKey = [`${prefix}plain.sasl.jaas.config`, `${prefix}sasl.jaas.config`, 'sasl.jaas.config'].find(
      (key) => raw.has(key),
    );
    if (jaasKey === undefined) {
      problems.check(() => {
        const entry = staticJaasEntry(jaas, listenerName, plainLoginModule);
        if (entry === undefined) {
          throw new ConfigError(
            `${prefix}plain.sasl.jaas.config`,
            `PLAIN is enabled on listener ${listenerName} but no JAAS config names its users (user_<name>="<password>")${
              jaas === undefined
                ? ''
                : `, and ${jaas.path} has neither a ${listenerName.toLowerCase()}.KafkaServer nor a KafkaServer section`
            }`,
          );
        }
        users = plainUsers(entry);
        if (users.size === 0) {
          throw new ConfigError(
            jaasFileConfigKey,
            `the ${plainLoginModule} entry of ${jaas!.path} defines no user (user_<name>="<password>")`,
          );
        }
      });
    } else {
      problems.check(() => {
        try {
          const entry = parseJaasConfig(raw.get(jaasKey)!);
          if (entry.loginModule !== plainLoginModule) {
            throw new Error(`PLAIN needs ${plainLoginModule}, got ${entry.loginModule}`);
          }
          users = plainUsers(entry);
          if (users.size === 0) throw new Error('defines no user (user_<name>="<password>")');
        } catch (error) {
          throw new ConfigError(jaasKey, (error as Error).message);
        }
      });
    }
  }
  // Server callback handlers are Java classes: Gregor has its own PLAIN and SCRAM servers and,
  // for OAUTHBEARER, Kafka's default unsecured validator only; naming any other is refused.
  for (const mechanism of mechanisms) {
    const handlerKey = [
      `listener.name.${listenerName.toLowerCase()}.${mechanism.toLowerCase()}.sasl.server.callback.handler.class`,
      'sasl.server.callback.handler.class',
    ].find((key) => raw.has(key));
    const handler = handlerKey === undefined ? '' : raw.get(handlerKey)!.trim();
    if (handlerKey === undefined || handler === '') continue;
    if (mechanism === 'OAUTHBEARER' && handler === unsecuredValidatorCallbackHandlerClass) continue;
    problems.add(
      new ConfigError(
        handlerKey,
        mechanism === 'OAUTHBEARER'
          ? `only ${unsecuredValidatorCallbackHandlerClass} (unsecured JWTs) is available for OAUTHBEARER, not ${handler}`
          : `server callback handlers are not available for ${mechanism} (listener ${listenerName}); remove the key`,
      ),
    );
  }
  let oauthBearer: UnsecuredJwtValidatorOptions | undefined;
  if (mechanisms.includes('OAUTHBEARER')) {
    const prefix = `listener.name.${listenerName.toLowerCase()}.`;
    const jaasKey = [
      `${prefix}oauthbearer.sasl.jaas.config`,
      `${prefix}sasl.jaas.config`,
      'sasl.jaas.config',
    ].find((key) => raw.has(key));
    if (jaasKey === undefined) {
      oauthBearer = problems.check(() => {
        const entry = staticJaasEntry(jaas, listenerName, oauthBearerLoginModule);
        if (entry === undefined) {
          throw new ConfigError(
            `${prefix}oauthbearer.sasl.jaas.config`,
            `OAUTHBEARER is enabled on listener ${listenerName} but no JAAS config names its login module (org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;)`,
          );
        }
        try {
          return unsecuredJwtValidatorOptions(entry);
        } catch (error) {
          throw new ConfigError(jaasFileConfigKey, `${jaas!.path}: ${(error as Error).message}`);
        }
      });
    } else {
      oauthBearer = problems.check(() => {
        let entry: JaasEntry;
        try {
          entry = parseJaasConfig(raw.get(jaasKey)!);
          return unsecuredJwtValidatorOptions(entry);
        } catch (error) {
          throw new ConfigError(jaasKey, (error as Error).message);
        }
      });
    }
  }
  const connectionsMaxReauthMs = new Map<SaslMechanismName, number>();
  for (const mechanism of mechanisms) {
    const value = problems.check(() => maxReauthMs(raw, listenerName, mechanism));
    connectionsMaxReauthMs.set(mechanism, value ?? 0);
  }
  problems.throwIfAny();
  return {
    mechanisms,
    plainUsers: users,
    connectionsMaxReauthMs,
    ...(oauthBearer === undefined ? {} : { oauthBearer }),
  };
}

/** connections.max.reauth.ms for one mechanism of one listener, the most specific key first. */
function maxReauthMs(raw: ReadonlyMap<string, string>, listenerName: string, mechanism: string): number {
  const prefix = `listener.name.${listenerName.toLowerCase()}.`;
  const key = [
    `${prefix}${mechanism.toLowerCase()}.connections.max.reauth.ms`,
    `${prefix}connections.max.reauth.ms`,
    'connections.max.reauth.ms',
  ].find((candidate) => raw.has(candidate));
  if (key === undefined) return 0;
  const text = raw.get(key)!.trim();
  // A long in Kafka; zero or less disables re-authentication. Past 2^53 ms is never anyway.
  if (!/^[-+]?\d+$/.test(text)) throw new ConfigError(key, `expected a long, got '${text}'`);
  const value = Number(text);
  return value <= 0 ? 0 : Math.min(value, Number.MAX_SAFE_INTEGER);
}
