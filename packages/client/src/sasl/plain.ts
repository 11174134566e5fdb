// SASL PLAIN (RFC 4616): one token, `authzid NUL authcid NUL password`, with no authzid, as
// Kafka's PlainSaslClient sends it. Meant for TLS connections: the password travels as is.

export function plainToken(username: string, password: string): Buffer {
  return Buffer.from(`\u0000${username}\u0000${password}`, 'utf8');
}
