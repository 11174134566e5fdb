import {
  type AclBinding,
  AclPatternType,
  AclPermissionType,
  AclResourceType,
  AclOperation as Op,
} from '@gregor/metadata';
import { describe, expect, it } from 'vitest';
import { parseSuperUsers, StandardAuthorizer } from './authorizer.js';
import { userPrincipal } from './kafka-principal.js';

const acl = (overrides: Partial<AclBinding>): AclBinding => ({
  resourceType: AclResourceType.TOPIC,
  resourceName: 'orders',
  patternType: AclPatternType.LITERAL,
  principal: 'User:alice',
  host: '*',
  operation: Op.READ,
  permissionType: AclPermissionType.ALLOW,
  ...overrides,
});

function authorizer(acls: AclBinding[], allowEveryoneIfNoAclFound = false, superUsers = 'User:admin') {
  const map = new Map(acls.map((binding, index) => [String(index), binding]));
  return new StandardAuthorizer(
    { superUsers: parseSuperUsers(superUsers), allowEveryoneIfNoAclFound },
    () => map,
  );
}

const alice = userPrincipal('alice');
const bob = userPrincipal('bob');
const topic = (name: string) => [AclResourceType.TOPIC, name] as const;

describe("StandardAuthorizer's semantics", () => {
  it('allows what an ALLOW covers; READ, WRITE, DELETE and ALTER imply DESCRIBE', () => {
    const auth = authorizer([acl({})]);
    expect(auth.authorize(alice, '10.0.0.1', Op.READ, ...topic('orders'))).toBe(true);
    expect(auth.authorize(alice, '10.0.0.1', Op.DESCRIBE, ...topic('orders'))).toBe(true);
    expect(auth.authorize(alice, '10.0.0.1', Op.WRITE, ...topic('orders'))).toBe(false);
    expect(auth.authorize(bob, '10.0.0.1', Op.READ, ...topic('orders'))).toBe(false);
    expect(auth.authorize(alice, '10.0.0.1', Op.DESCRIBE_CONFIGS, ...topic('orders'))).toBe(false);
    const configs = authorizer([acl({ operation: Op.ALTER_CONFIGS })]);
    expect(configs.authorize(alice, 'h', Op.DESCRIBE_CONFIGS, ...topic('orders'))).toBe(true);
  });

  it('lets DENY win over ALLOW, ALL cover every operation, and match hosts and User:*', () => {
    const auth = authorizer([
      acl({ principal: 'User:*', operation: Op.ALL }),
      acl({ operation: Op.WRITE, permissionType: AclPermissionType.DENY, host: '10.0.0.9' }),
    ]);
    expect(auth.authorize(bob, '10.0.0.1', Op.WRITE, ...topic('orders'))).toBe(true);
    expect(auth.authorize(alice, '10.0.0.1', Op.WRITE, ...topic('orders'))).toBe(true);
    expect(auth.authorize(alice, '10.0.0.9', Op.WRITE, ...topic('orders'))).toBe(false);
    expect(auth.authorize(alice, '10.0.0.9', Op.READ, ...topic('orders'))).toBe(true);
  });

  it('matches literal names, the * wildcard and prefixes', () => {
    const auth = authorizer([
      acl({ resourceName: 'sales-', patternType: AclPatternType.PREFIXED }),
      acl({ resourceType: AclResourceType.GROUP, resourceName: '*', principal: 'User:bob' }),
    ]);
    expect(auth.authorize(alice, 'h', Op.READ, ...topic('sales-eu'))).toBe(true);
    expect(auth.authorize(alice, 'h', Op.READ, ...topic('sale'))).toBe(false);
    expect(auth.authorize(bob, 'h', Op.READ, AclResourceType.GROUP, 'any-group')).toBe(true);
  });

  it('leaves a resource no ACL covers to allow.everyone.if.no.acl.found, and super.users to everything', () => {
    expect(authorizer([acl({})]).authorize(bob, 'h', Op.WRITE, ...topic('other'))).toBe(false);
    expect(authorizer([acl({})], true).authorize(bob, 'h', Op.WRITE, ...topic('other'))).toBe(true);
    expect(authorizer([acl({})], true).authorize(bob, 'h', Op.READ, ...topic('orders'))).toBe(false);
    expect(
      authorizer([], false).authorize(
        userPrincipal('admin'),
        'h',
        Op.ALTER,
        AclResourceType.CLUSTER,
        'kafka-cluster',
      ),
    ).toBe(true);
  });
});
