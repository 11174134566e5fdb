// ssl.principal.mapping.rules: how a client certificate's subject becomes a user name, with
// Kafka's SslPrincipalMapper grammar. A list of rules, the first whose pattern matches the whole
// distinguished name wins:
//   RULE:pattern/replacement/        the DN with pattern replaced (Java regex, $1 groups)
//   RULE:pattern/replacement/L       ... lower-cased    (U: upper-cased)
//   DEFAULT                          the DN unchanged
// A DN that no rule matches has no principal: the connection is refused, as Kafka refuses it.

export type PrincipalMappingResult =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: string };

interface Rule {
  readonly pattern: RegExp | null;
  readonly replacement: string;
  readonly caseChange: '' | 'L' | 'U';
}

// Kafka's RULE_SPLITTER, transcribed: DEFAULT, or RULE:pattern/replacement/[LU], separated by
// commas (a comma inside a pattern is fine: the pattern ends at an unescaped slash).
const ruleSplitter =
  /\s*((DEFAULT)|RULE:((?:\\.|[^\\/])*)\/((?:\\.|[^\\/])*)\/([LU]?)[^,]*?|(.*?))\s*(,\s*|$)/y;

export class SslPrincipalMapper {
  private constructor(private readonly rules: readonly Rule[]) {}

  /** Parses the rules; throws an Error naming the bad rule. */
  static parse(text: string): SslPrincipalMapper {
    const rules: Rule[] = [];
    ruleSplitter.lastIndex = 0;
    const trimmed = text.trim();
    while (ruleSplitter.lastIndex < trimmed.length) {
      const match = ruleSplitter.exec(trimmed);
      if (match === null || match[0] === '') break;
      if (match[6] !== undefined && match[6] !== '') throw new Error(`invalid rule: ${match[6]}`);
      if (match[2] !== undefined) {
        rules.push({ pattern: null, replacement: '', caseChange: '' });
      } else {
        let pattern: RegExp;
        try {
          pattern = new RegExp(`^(?:${match[3]!})$`);
        } catch (error) {
          throw new Error(`invalid rule pattern '${match[3]}': ${(error as Error).message}`);
        }
        rules.push({ pattern, replacement: match[4]!, caseChange: (match[5] ?? '') as Rule['caseChange'] });
      }
    }
    if (rules.length === 0) throw new Error(`no rule in '${text}'`);
    return new SslPrincipalMapper(rules);
  }

  /** The user name for a distinguished name (RFC 2253 form), or why there is none. */
  map(distinguishedName: string): PrincipalMappingResult {
    for (const rule of this.rules) {
      if (rule.pattern === null) return { ok: true, name: distinguishedName };
      if (!rule.pattern.test(distinguishedName)) continue;
      const global = new RegExp(rule.pattern.source.slice(4, -2), 'g');
      let name = distinguishedName.replace(global, rule.replacement);
      if (rule.caseChange === 'L') name = name.toLowerCase();
      if (rule.caseChange === 'U') name = name.toUpperCase();
      return { ok: true, name };
    }
    return { ok: false, reason: `no ssl.principal.mapping.rules rule applies to ${distinguishedName}` };
  }
}

/**
 * A certificate subject as Node prints it (one `KEY=value` per line, most significant first) in
 * RFC 2253 form, as Java's X500Principal.getName() gives Kafka: least significant first,
 * comma-separated, with RFC 2253's special characters escaped.
 */
export function rfc2253Name(nodeSubject: string): string {
  return nodeSubject
    .split('\n')
    .filter((line) => line !== '')
    .reverse()
    .map((attribute) => {
      const equals = attribute.indexOf('=');
      const type = attribute.slice(0, equals);
      const value = attribute.slice(equals + 1).replace(/\\(.)/g, '$1');
      const escaped = value
        .replace(/[,+"\\<>;]/g, (char) => `\\${char}`)
        .replace(/^[ #]/, (char) => `\\${char}`)
        .replace(/ $/, '\\ ');
      return `${type}=${escaped}`;
    })
    .join(',');
}
