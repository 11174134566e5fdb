// A JAAS configuration entry as Kafka's `sasl.jaas.config` holds it:
//   org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";
// a login module class, a control flag, then `name=value` options (values quoted or bare), ending
// with a semicolon. Kafka's PLAIN server reads its users from the `user_<name>="<password>"` options.
//
// And a JAAS file, the static configuration the JVM reads from `-Djava.security.auth.login.config`
// (which Kafka users put in KAFKA_OPTS): named sections of such entries,
//   KafkaServer {
//     org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";
//   };
// with `//` and `/* */` comments, as Java's ConfigFile reads it.

export interface JaasEntry {
  readonly loginModule: string;
  readonly controlFlag: string;
  readonly options: ReadonlyMap<string, string>;
}

interface Token {
  readonly kind: 'word' | 'quoted' | '=' | ';' | '{' | '}';
  readonly value: string;
}

/** A quoted string, a word, `=`, `;`, and (in files) braces; comments are skipped. */
const token = /\s*(?:"((?:\\.|[^"\\])*)"|([^\s=;"{}]+)|(=)|(;)|(\{)|(\}))/y;
const comment = /\s*(?:\/\/[^\n]*|\/\*[\s\S]*?\*\/)/y;

function tokenize(text: string, braces: boolean): Token[] {
  const tokens: Token[] = [];
  token.lastIndex = 0;
  const source = text.trim();
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    if (braces) {
      comment.lastIndex = at;
      if (comment.exec(source) !== null) {
        at = comment.lastIndex;
        continue;
      }
    }
    token.lastIndex = at;
    const match = token.exec(source);
    if (match === null || (!braces && (match[5] !== undefined || match[6] !== undefined)))
      throw new Error(`cannot read the JAAS configuration at '${source.slice(at, at + 20).trim()}'`);
    at = token.lastIndex;
    if (match[1] !== undefined) tokens.push({ kind: 'quoted', value: match[1].replace(/\\(.)/g, '$1') });
    else if (match[2] !== undefined) tokens.push({ kind: 'word', value: match[2] });
    else if (match[3] !== undefined) tokens.push({ kind: '=', value: '=' });
    else if (match[4] !== undefined) tokens.push({ kind: ';', value: ';' });
    else if (match[5] !== undefined) tokens.push({ kind: '{', value: '{' });
    else tokens.push({ kind: '}', value: '}' });
  }
  return tokens;
}

/** Parses one entry; throws an Error saying what is wrong. */
export function parseJaasConfig(text: string): JaasEntry {
  return entryFrom(tokenize(text, false));
}

/** One entry from its tokens, the closing semicolon included. */
function entryFrom(tokens: readonly Token[]): JaasEntry {
  const [module, flag, ...rest] = tokens;
  if (module?.kind !== 'word' || flag?.kind !== 'word') {
    throw new Error('expected `<LoginModule class> <required|requisite|sufficient|optional> options;`');
  }
  if (!['required', 'requisite', 'sufficient', 'optional'].includes(flag.value)) {
    throw new Error(`'${flag.value}' is not a JAAS control flag (required, requisite, sufficient, optional)`);
  }
  if (rest.at(-1)?.kind !== ';') throw new Error('a JAAS entry ends with a semicolon');
  const options = new Map<string, string>();
  for (let index = 0; index < rest.length - 1; index += 3) {
    const [name, equals, value] = [rest[index], rest[index + 1], rest[index + 2]];
    if (
      name?.kind !== 'word' ||
      equals?.kind !== '=' ||
      value === undefined ||
      value.kind === '=' ||
      value.kind === ';'
    ) {
      throw new Error(`expected name=value in the options of ${module.value}`);
    }
    options.set(name.value, value.value);
  }
  return { loginModule: module.value, controlFlag: flag.value, options };
}

export const plainLoginModule = 'org.apache.kafka.common.security.plain.PlainLoginModule';

/** The users a PlainLoginModule entry defines (`user_<name>="<password>"`), by name. */
export function plainUsers(entry: JaasEntry): Map<string, string> {
  const users = new Map<string, string>();
  for (const [name, value] of entry.options) {
    if (name.startsWith('user_')) users.set(name.slice('user_'.length), value);
  }
  return users;
}

/** A JAAS file's sections (login contexts) by name, each with its entries in order. */
export type JaasFile = ReadonlyMap<string, readonly JaasEntry[]>;

/** Parses a JAAS file (`Name { entry; ... };` sections); throws an Error saying what is wrong. */
export function parseJaasFile(text: string): JaasFile {
  const tokens = tokenize(text, true);
  const sections = new Map<string, JaasEntry[]>();
  let at = 0;
  while (at < tokens.length) {
    const name = tokens[at];
    if (name?.kind !== 'word' || tokens[at + 1]?.kind !== '{') {
      throw new Error(`expected a section \`Name { ... };\` at '${name?.value ?? 'the end'}'`);
    }
    if (sections.has(name.value)) throw new Error(`section ${name.value} appears twice`);
    at += 2;
    const entries: JaasEntry[] = [];
    while (tokens[at]?.kind !== '}') {
      const end = tokens.findIndex((candidate, index) => index >= at && candidate.kind === ';');
      const close = tokens.findIndex((candidate, index) => index >= at && candidate.kind === '}');
      if (end === -1 || (close !== -1 && close < end)) {
        throw new Error(`in section ${name.value}: a JAAS entry ends with a semicolon`);
      }
      try {
        entries.push(entryFrom(tokens.slice(at, end + 1)));
      } catch (error) {
        throw new Error(`in section ${name.value}: ${(error as Error).message}`);
      }
      at = end + 1;
    }
    if (tokens[at + 1]?.kind !== ';') throw new Error(`section ${name.value} must end with '};'`);
    at += 2;
    sections.set(name.value, entries);
  }
  return sections;
}

/**
 * The JAAS file named by `-Djava.security.auth.login.config=<path>` in KAFKA_OPTS, as the JVM of
 * kafka-server-start.sh and the apache/kafka image would be given it; undefined when it names none.
 */
export function jaasFilePathFromKafkaOpts(kafkaOpts: string | undefined): string | undefined {
  if (kafkaOpts === undefined) return undefined;
  let path: string | undefined;
  // The JVM takes the last -D of a property; `==` (replace the java.security one) is read the same.
  for (const match of kafkaOpts.matchAll(
    /(?:^|\s)-Djava\.security\.auth\.login\.config==?(?:"([^"]*)"|'([^']*)'|(\S+))/g,
  )) {
    path = match[1] ?? match[2] ?? match[3];
  }
  return path;
}

/**
 * The entry of `loginModule` that a listener takes from a JAAS file, as Kafka's JaasContext looks:
 * the section `<listener name, lower case>.KafkaServer`, else `KafkaServer`.
 */
export function jaasFileEntry(
  file: JaasFile,
  listenerName: string,
  loginModule: string,
): { readonly section: string; readonly entry: JaasEntry | undefined } | undefined {
  for (const section of [`${listenerName.toLowerCase()}.KafkaServer`, 'KafkaServer']) {
    const entries = file.get(section);
    if (entries !== undefined)
      return { section, entry: entries.find((entry) => entry.loginModule === loginModule) };
  }
  return undefined;
}
