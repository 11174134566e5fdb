// Authorization with Kafka's StandardAuthorizer semantics, over the ACLs in the metadata image:
//   - super.users are allowed everything;
//   - the ACLs that apply to a resource are those of its type whose pattern covers its name
//     (LITERAL name, LITERAL `*`, or PREFIXED);
//   - none apply: allow.everyone.if.no.acl.found decides;
//   - a DENY for the principal (or User:*), host (or *) and operation (or ALL) wins;
//   - else an ALLOW of the same kind allows, where READ, WRITE, DELETE or ALTER imply DESCRIBE and
//     ALTER_CONFIGS implies DESCRIBE_CONFIGS;
//   - else denied.

import {
  type AclBinding,
  AclOperation,
  AclPermissionType,
  resourceNameMatches,
  wildcardHost,
  wildcardPrincipal,
} from '@gregor/metadata';
import { formatPrincipal, type KafkaPrincipal } from './kafka-principal.js';

export interface AuthorizerSettings {
  /** super.users: `User:name` principals allowed everything. */
  readonly superUsers: ReadonlySet<string>;
  /** allow.everyone.if.no.acl.found */
  readonly allowEveryoneIfNoAclFound: boolean;
}

const impliesDescribe: ReadonlySet<number> = new Set([
  AclOperation.READ,
  AclOperation.WRITE,
  AclOperation.DELETE,
  AclOperation.ALTER,
]);

export class StandardAuthorizer {
  constructor(
    private readonly settings: AuthorizerSettings,
    private readonly acls: () => ReadonlyMap<string, AclBinding>,
  ) {}

  authorize(
    principal: KafkaPrincipal,
    host: string,
    operation: number,
    resourceType: number,
    resourceName: string,
  ): boolean {
    const name = formatPrincipal(principal);
    if (this.settings.superUsers.has(name)) return true;
    const applicable: AclBinding[] = [];
    for (const acl of this.acls().values()) {
      if (acl.resourceType === resourceType && resourceNameMatches(acl, resourceName)) applicable.push(acl);
    }
    if (applicable.length === 0) return this.settings.allowEveryoneIfNoAclFound;
    const concerns = (acl: AclBinding) =>
      (acl.principal === name || acl.principal === wildcardPrincipal) &&
      (acl.host === host || acl.host === wildcardHost);
    const denied = applicable.some(
      (acl) =>
        acl.permissionType === AclPermissionType.DENY &&
        concerns(acl) &&
        (acl.operation === operation || acl.operation === AclOperation.ALL),
    );
    if (denied) return false;
    return applicable.some(
      (acl) =>
        acl.permissionType === AclPermissionType.ALLOW &&
        concerns(acl) &&
        (acl.operation === operation ||
          acl.operation === AclOperation.ALL ||
          (operation === AclOperation.DESCRIBE && impliesDescribe.has(acl.operation)) ||
          (operation === AclOperation.DESCRIBE_CONFIGS && acl.operation === AclOperation.ALTER_CONFIGS)),
    );
  }

  /** Whether the principal may `operation` some resource of the type (Kafka's authorizeByResourceType, simplified to: any ALLOW not denied outright). */
  authorizeAny(principal: KafkaPrincipal, host: string, operation: number, resourceType: number): boolean {
    const name = formatPrincipal(principal);
    if (this.settings.superUsers.has(name)) return true;
    for (const acl of this.acls().values()) {
      if (
        acl.resourceType === resourceType &&
        acl.permissionType === AclPermissionType.ALLOW &&
        (acl.operation === operation || acl.operation === AclOperation.ALL) &&
        this.authorize(principal, host, operation, resourceType, acl.resourceName)
      ) {
        return true;
      }
    }
    return false;
  }
}

/** super.users: `User:a;User:b` (semicolons, as Kafka). */
export function parseSuperUsers(text: string): Set<string> {
  return new Set(
    text
      .split(';')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  );
}
