// A reader for Java .properties files, the format of Kafka's server.properties:
// `key=value`, `key: value` or `key value`; `#` and `!` comments; a trailing backslash continues
// a line; `\t \n \r \f \uXXXX` escapes; later keys override earlier ones.

export class PropertiesSyntaxError extends Error {
  override readonly name = 'PropertiesSyntaxError';
}

export function parseProperties(text: string): Map<string, string> {
  const result = new Map<string, string>();
  const physicalLines = text.split(/\r\n|\r|\n/);
  for (let index = 0; index < physicalLines.length; index++) {
    let line = physicalLines[index]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const startLine = index + 1;
    while (endsWithContinuation(line) && index + 1 < physicalLines.length) {
      line = line.slice(0, -1) + physicalLines[++index]!.replace(/^[ \t\f]+/, '');
    }
    if (endsWithContinuation(line)) line = line.slice(0, -1);
    const { key, value } = splitKeyValue(line);
    if (key === '') throw new PropertiesSyntaxError(`line ${startLine}: empty key`);
    result.set(unescapeProperty(key, startLine), unescapeProperty(value, startLine));
  }
  return result;
}

function endsWithContinuation(line: string): boolean {
  let backslashes = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

function splitKeyValue(line: string): { key: string; value: string } {
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === '=' || ch === ':' || ch === ' ' || ch === '\t' || ch === '\f') break;
    i++;
  }
  const key = line.slice(0, i);
  let rest = line.slice(i).replace(/^[ \t\f]+/, '');
  if (rest.startsWith('=') || rest.startsWith(':')) rest = rest.slice(1).replace(/^[ \t\f]+/, '');
  return { key, value: rest };
}

function unescapeProperty(text: string, lineNumber: number): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = text[++i];
    if (next === undefined) break;
    switch (next) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        const hex = text.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          throw new PropertiesSyntaxError(`line ${lineNumber}: malformed \\u escape`);
        }
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        out += next;
    }
  }
  return out;
}
