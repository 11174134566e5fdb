/**
 * Parser for Kafka's static voter syntax:
 *   controller.quorum.voters=1@127.0.0.1:9192,2@127.0.0.1:9193,3@[::1]:9194
 * A bad entry is an expected failure (operator input), so it is a value naming the entry, not a throw.
 * Port 0 means the port is not known yet (a voter that binds port 0 at start-up): the caller learns
 * it later (see `RaftGrpcTransportOptions.addressOf`).
 */

export interface QuorumVoter {
  readonly id: number;
  readonly host: string;
  /** 0: not known yet. */
  readonly port: number;
}

export type QuorumVotersParseError =
  | { readonly kind: 'empty' }
  | { readonly kind: 'bad-entry'; readonly entry: string; readonly reason: string }
  | { readonly kind: 'duplicate-id'; readonly entry: string; readonly id: number };

export type QuorumVotersParseResult =
  | { readonly ok: true; readonly voters: readonly QuorumVoter[] }
  | { readonly ok: false; readonly error: QuorumVotersParseError };

const PORT_MAX = 65_535;
/** Kafka node ids are int32. */
const NODE_ID_MAX = 2_147_483_647;
const DECIMAL = /^\d+$/;

export function parseQuorumVoters(value: string): QuorumVotersParseResult {
  const trimmed = value.trim();
  if (trimmed === '') return { ok: false, error: { kind: 'empty' } };
  const voters: QuorumVoter[] = [];
  const seen = new Set<number>();
  for (const raw of trimmed.split(',')) {
    const entry = raw.trim();
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') {
      return { ok: false, error: { kind: 'bad-entry', entry, reason: parsed } };
    }
    if (seen.has(parsed.id)) return { ok: false, error: { kind: 'duplicate-id', entry, id: parsed.id } };
    seen.add(parsed.id);
    voters.push(parsed);
  }
  return { ok: true, voters };
}

/** Returns the voter or the reason it is malformed. */
function parseEntry(entry: string): QuorumVoter | string {
  const at = entry.indexOf('@');
  if (at < 0) return 'expected id@host:port';
  const idText = entry.slice(0, at);
  if (!DECIMAL.test(idText)) return `node id '${idText}' is not a non-negative integer`;
  const id = Number(idText);
  if (id > NODE_ID_MAX) return `node id ${idText} is above ${NODE_ID_MAX}`;
  const address = entry.slice(at + 1);
  const colon = address.lastIndexOf(':');
  if (colon < 0) return 'expected host:port after @';
  let host = address.slice(0, colon);
  const portText = address.slice(colon + 1);
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return `unterminated IPv6 address '${host}'`;
    host = host.slice(1, -1);
  } else if (host.includes(':')) {
    return `IPv6 address '${host}' must be in brackets`;
  }
  if (host === '') return 'host is empty';
  if (/\s/.test(host)) return `host '${host}' contains whitespace`;
  if (!DECIMAL.test(portText)) return `port '${portText}' is not a number`;
  const port = Number(portText);
  if (port > PORT_MAX) return `port ${port} is outside 0..${PORT_MAX}`;
  return { id, host, port };
}
