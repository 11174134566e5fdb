// A JAAS configuration entry as Kafka's `sasl.jaas.config` holds it:
//   org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";
// a login module class, a control flag, then `name=value` options (values quoted or bare), ending
// with a semicolon. Kafka's PLAIN server reads its users from the `user_<name>="<password>"` options.

export interface JaasEntry {
  readonly loginModule: string;
  readonly controlFlag: string;
  readonly options: ReadonlyMap<string, string>;
}

const token = /\s*(?:"((?:\\.|[^"\\])*)"|([^\s=;"]+)|(=)|(;))/y;

/** Parses one entry; throws an Error saying what is wrong. */
export function parseJaasConfig(text: string): JaasEntry {
  const tokens: { kind: 'word' | 'quoted' | '=' | ';'; value: string }[] = [];
  token.lastIndex = 0;
  const source = text.trim();
  while (token.lastIndex < source.length) {
    const start = token.lastIndex;
    const match = token.exec(source);
    if (match === null)
      throw new Error(`cannot read the JAAS configuration at '${source.slice(start, start + 20)}'`);
    if (match[1] !== undefined) tokens.push({ kind: 'quoted', value: match[1].replace(/\\(.)/g, '$1') });
    else if (match[2] !== undefined) tokens.push({ kind: 'word', value: match[2] });
    else if (match[3] !== undefined) tokens.push({ kind: '=', value: '=' });
    else tokens.push({ kind: ';', value: ';' });
    if (/^\s*$/.test(source.slice(token.lastIndex))) break;
  }
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
