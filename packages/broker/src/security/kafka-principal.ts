// Who a connection is, in Kafka's terms: a principal type and name (`User:alice`). PLAINTEXT
// connections, and SSL ones without a client certificate, are `User:ANONYMOUS`, as with Kafka's
// DefaultKafkaPrincipalBuilder.

export interface KafkaPrincipal {
  readonly principalType: string;
  readonly name: string;
  /**
   * Authenticated by a delegation token (SCRAM with tokenauth=true): the token's owner, who may not
   * create, renew, expire or describe tokens on such a connection (Kafka's tokenAuthenticated).
   */
  readonly tokenAuthenticated?: boolean;
}

export const anonymousPrincipal: KafkaPrincipal = { principalType: 'User', name: 'ANONYMOUS' };

export function userPrincipal(name: string): KafkaPrincipal {
  return { principalType: 'User', name };
}

/** `User:alice`, the form ACLs, super.users and log lines use. */
export function formatPrincipal(principal: KafkaPrincipal): string {
  return `${principal.principalType}:${principal.name}`;
}
