// `gregor acls`: ACLs in the shape of kafka-acls.sh:
//   gregor acls --bootstrap-server H:P --add --allow-principal User:alice --operation Read
//               --topic orders [--resource-pattern-type prefixed] [--allow-host 10.0.0.1]
//   gregor acls --bootstrap-server H:P --add --allow-principal User:alice --consumer --topic T --group G
//   gregor acls --bootstrap-server H:P --remove --deny-principal User:bob --operation Write --topic T
//   gregor acls --bootstrap-server H:P --list [--topic T | --group G | --cluster]
// (CreateAcls, DeleteAcls, DescribeAcls). The connection is PLAINTEXT, as User:ANONYMOUS: give
// that principal the right (super.users, or ACLs on the cluster) on an admin-only listener.

import { ApiKey, type KafkaConnection } from '@gregor/client';
import { AclOperation, AclPatternType, AclPermissionType, AclResourceType } from '@gregor/metadata';
import { ErrorCode, errorName } from '@gregor/protocol';
import { openCliConnection, withCliConnection } from './cli-connection.js';
import { commandConfigFlag, commandConfigHelp, securityFromFlag } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import { parseAddress } from './metadata-shell-args.js';

const usageExitCode = 2;
const failureExitCode = 1;
const timeoutMs = 30_000;

/** How long connecting to the bootstrap server (and logging in) may take. */
const aclsConnectTimeoutMs = 30_000;

export const aclsUsage = `Usage: gregor acls --bootstrap-server host:port [--command-config FILE] (--add | --remove | --list) [options]

ACLs, like kafka-acls.sh:
  --allow-principal P / --deny-principal P   (repeatable) User:name or User:*
  --allow-host H / --deny-host H             (repeatable) default: *
  --operation OP                             (repeatable) Read, Write, Create, Delete, Alter,
                                             Describe, ClusterAction, DescribeConfigs,
                                             AlterConfigs, IdempotentWrite, CreateTokens,
                                             DescribeTokens, All
  --producer / --consumer                    Write, Describe, Create on topics and Write,
                                             Describe on transactional ids / Read, Describe
                                             on topics and Read on groups
  --topic T, --group G, --cluster, --transactional-id ID   (repeatable) the resources
  --user-principal User:N, --delegation-token ID           (repeatable) users (CreateTokens,
                                             DescribeTokens of their tokens: KIP-373) and tokens
  --resource-pattern-type literal|prefixed (add); any|match|literal|prefixed (remove, list)

${commandConfigHelp}
Exit codes: 0 ok, 1 refused or unreachable, 2 usage error.
`;

const operationsByName = new Map<string, number>([
  ['read', AclOperation.READ],
  ['write', AclOperation.WRITE],
  ['create', AclOperation.CREATE],
  ['delete', AclOperation.DELETE],
  ['alter', AclOperation.ALTER],
  ['describe', AclOperation.DESCRIBE],
  ['clusteraction', AclOperation.CLUSTER_ACTION],
  ['describeconfigs', AclOperation.DESCRIBE_CONFIGS],
  ['alterconfigs', AclOperation.ALTER_CONFIGS],
  ['idempotentwrite', AclOperation.IDEMPOTENT_WRITE],
  ['createtokens', AclOperation.CREATE_TOKENS],
  ['describetokens', AclOperation.DESCRIBE_TOKENS],
  ['all', AclOperation.ALL],
]);
const patternTypes = new Map<string, number>([
  ['literal', AclPatternType.LITERAL],
  ['prefixed', AclPatternType.PREFIXED],
  ['any', AclPatternType.ANY],
  ['match', AclPatternType.MATCH],
]);
const nameOf = (table: Record<string, number>, value: number) =>
  Object.entries(table).find(([, candidate]) => candidate === value)?.[0] ?? String(value);

interface Resource {
  readonly type: number;
  readonly name: string;
}

interface Entry {
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permission: number;
}

const repeatable = new Set([
  '--allow-principal',
  '--deny-principal',
  '--allow-host',
  '--deny-host',
  '--operation',
  '--topic',
  '--group',
  '--transactional-id',
  '--user-principal',
  '--delegation-token',
]);
const single = new Set(['--bootstrap-server', '--command-config', '--resource-pattern-type']);
const switches = new Set(['--add', '--remove', '--list', '--cluster', '--producer', '--consumer', '--force']);

export async function runAcls(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const values = new Map<string, string[]>();
  const on = new Set<string>();
  const usage = (message: string) => {
    err.write(`gregor acls: ${message}\n${aclsUsage}`);
    return usageExitCode;
  };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') {
      out.write(aclsUsage);
      return 0;
    }
    if (switches.has(arg)) on.add(arg);
    else if (repeatable.has(arg) || single.has(arg)) {
      const value = args[++index];
      if (value === undefined) return usage(`${arg} needs a value`);
      values.set(arg, [...(values.get(arg) ?? []), value]);
    } else return usage(`unknown argument '${arg}'`);
  }
  const bootstrap = parseAddress((values.get('--bootstrap-server')?.[0] ?? '').split(',')[0]!);
  if (bootstrap === null) return usage('--bootstrap-server host:port is required');
  const security = securityFromFlag(commandConfigFlag, values.get(commandConfigFlag)?.[0]);
  if (typeof security === 'string') return usage(security);
  const actions = ['--add', '--remove', '--list'].filter((action) => on.has(action));
  if (actions.length !== 1) return usage('give exactly one of --add, --remove and --list');
  const action = actions[0]!;
  const resources: Resource[] = [
    ...(values.get('--topic') ?? []).map((name) => ({ type: AclResourceType.TOPIC, name })),
    ...(values.get('--group') ?? []).map((name) => ({ type: AclResourceType.GROUP, name })),
    ...(values.get('--transactional-id') ?? []).map((name) => ({
      type: AclResourceType.TRANSACTIONAL_ID,
      name,
    })),
    ...(values.get('--user-principal') ?? []).map((name) => ({ type: AclResourceType.USER, name })),
    ...(values.get('--delegation-token') ?? []).map((name) => ({
      type: AclResourceType.DELEGATION_TOKEN,
      name,
    })),
    ...(on.has('--cluster') ? [{ type: AclResourceType.CLUSTER, name: 'kafka-cluster' }] : []),
  ];
  const patternName = (values.get('--resource-pattern-type')?.[0] ?? 'literal').toLowerCase();
  const patternType = patternTypes.get(patternName);
  if (patternType === undefined) return usage(`unknown --resource-pattern-type ${patternName}`);
  if (
    action === '--add' &&
    patternType !== AclPatternType.LITERAL &&
    patternType !== AclPatternType.PREFIXED
  ) {
    return usage('--add takes --resource-pattern-type literal or prefixed');
  }

  const open = () =>
    openCliConnection({ ...bootstrap, clientId: 'gregor-acls', timeoutMs: aclsConnectTimeoutMs, security });
  return withCliConnection(open, err, async (connection) => {
    if (action === '--list') return await list(connection, resources, patternType, out, err);
    const operations: number[] = [];
    for (const name of values.get('--operation') ?? []) {
      const operation = operationsByName.get(name.toLowerCase());
      if (operation === undefined) return usage(`unknown operation ${name}`);
      operations.push(operation);
    }
    const entries = (principals: string[] | undefined, hosts: string[] | undefined, permission: number) =>
      (principals ?? []).flatMap((principal) =>
        (hosts ?? ['*']).flatMap((host) =>
          operations.map((operation) => ({ principal, host, operation, permission })),
        ),
      );
    const bindings: { resource: Resource; entry: Entry }[] = [];
    for (const resource of resources) {
      for (const entry of [
        ...entries(values.get('--allow-principal'), values.get('--allow-host'), AclPermissionType.ALLOW),
        ...entries(values.get('--deny-principal'), values.get('--deny-host'), AclPermissionType.DENY),
      ]) {
        bindings.push({ resource, entry });
      }
    }
    // --producer and --consumer, as kafka-acls.sh expands them.
    for (const principal of values.get('--allow-principal') ?? []) {
      const add = (resource: Resource, operation: number) =>
        bindings.push({
          resource,
          entry: { principal, host: '*', operation, permission: AclPermissionType.ALLOW },
        });
      for (const resource of resources) {
        if (on.has('--producer') && resource.type === AclResourceType.TOPIC) {
          for (const operation of [AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE])
            add(resource, operation);
        }
        if (on.has('--producer') && resource.type === AclResourceType.TRANSACTIONAL_ID) {
          for (const operation of [AclOperation.WRITE, AclOperation.DESCRIBE]) add(resource, operation);
        }
        if (on.has('--consumer') && resource.type === AclResourceType.TOPIC) {
          for (const operation of [AclOperation.READ, AclOperation.DESCRIBE]) add(resource, operation);
        }
        if (on.has('--consumer') && resource.type === AclResourceType.GROUP) add(resource, AclOperation.READ);
      }
    }
    // One binding once, however many flags asked for it (--producer and --consumer both give Describe).
    const seen = new Set<string>();
    const distinct = bindings.filter(({ resource, entry }) => {
      const key = JSON.stringify([
        resource.type,
        resource.name,
        entry.principal,
        entry.host,
        entry.operation,
        entry.permission,
      ]);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    bindings.splice(0, bindings.length, ...distinct);
    if (bindings.length === 0)
      return usage('name a principal, an operation (or --producer/--consumer) and a resource');
    return action === '--add'
      ? await add(connection, bindings, patternType, out, err)
      : await remove(connection, bindings, patternType, out, err);
  });
}

function describeBinding(
  resourceType: number,
  resourceName: string,
  patternType: number,
  entry: Entry,
): string {
  return (
    `ResourcePattern(resourceType=${nameOf(AclResourceType, resourceType)}, name=${resourceName}, ` +
    `patternType=${nameOf(AclPatternType, patternType)}): (principal=${entry.principal}, host=${entry.host}, ` +
    `operation=${nameOf(AclOperation, entry.operation)}, permissionType=${nameOf(AclPermissionType, entry.permission)})`
  );
}

async function add(
  connection: KafkaConnection,
  bindings: readonly { resource: Resource; entry: Entry }[],
  patternType: number,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const response = await connection.call(
    ApiKey.CreateAcls,
    3,
    {
      creations: bindings.map(({ resource, entry }) => ({
        resourceType: resource.type,
        resourceName: resource.name,
        resourcePatternType: patternType,
        principal: entry.principal,
        host: entry.host,
        operation: entry.operation,
        permissionType: entry.permission,
      })),
    },
    timeoutMs,
  );
  let failed = false;
  response.results.forEach((result, index) => {
    const { resource, entry } = bindings[index]!;
    const text = describeBinding(resource.type, resource.name, patternType, entry);
    if (result.errorCode === ErrorCode.NONE) out.write(`Adding ACL: ${text}\n`);
    else {
      failed = true;
      err.write(`Error: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''} for ${text}\n`);
    }
  });
  return failed ? failureExitCode : 0;
}

async function remove(
  connection: KafkaConnection,
  bindings: readonly { resource: Resource; entry: Entry }[],
  patternType: number,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const response = await connection.call(
    ApiKey.DeleteAcls,
    3,
    {
      filters: bindings.map(({ resource, entry }) => ({
        resourceTypeFilter: resource.type,
        resourceNameFilter: resource.name,
        patternTypeFilter: patternType,
        principalFilter: entry.principal,
        hostFilter: entry.host,
        operation: entry.operation,
        permissionType: entry.permission,
      })),
    },
    timeoutMs,
  );
  let failed = false;
  for (const result of response.filterResults) {
    if (result.errorCode !== ErrorCode.NONE) {
      failed = true;
      err.write(`Error: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}\n`);
      continue;
    }
    for (const acl of result.matchingAcls) {
      out.write(
        `Removed ACL: ${describeBinding(acl.resourceType, acl.resourceName, acl.patternType, {
          principal: acl.principal,
          host: acl.host,
          operation: acl.operation,
          permission: acl.permissionType,
        })}\n`,
      );
    }
  }
  return failed ? failureExitCode : 0;
}

async function list(
  connection: KafkaConnection,
  resources: readonly Resource[],
  patternType: number,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const filters =
    resources.length === 0
      ? [{ type: AclResourceType.ANY, name: null as string | null }]
      : resources.map((resource) => ({ type: resource.type, name: resource.name as string | null }));
  for (const filter of filters) {
    const response = await connection.call(
      ApiKey.DescribeAcls,
      3,
      {
        resourceTypeFilter: filter.type,
        resourceNameFilter: filter.name,
        patternTypeFilter:
          resources.length === 0
            ? AclPatternType.ANY
            : patternType === AclPatternType.LITERAL
              ? AclPatternType.LITERAL
              : patternType,
        principalFilter: null,
        hostFilter: null,
        operation: AclOperation.ANY,
        permissionType: AclPermissionType.ANY,
      },
      timeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) {
      err.write(`Error: ${errorName(response.errorCode)}: ${response.errorMessage ?? ''}\n`);
      return failureExitCode;
    }
    for (const resource of response.resources) {
      out.write(
        `Current ACLs for resource \`ResourcePattern(resourceType=${nameOf(AclResourceType, resource.resourceType)}, name=${resource.resourceName}, patternType=${nameOf(AclPatternType, resource.patternType)})\`:\n`,
      );
      for (const acl of resource.acls) {
        out.write(
          `\t(principal=${acl.principal}, host=${acl.host}, operation=${nameOf(AclOperation, acl.operation)}, permissionType=${nameOf(AclPermissionType, acl.permissionType)})\n`,
        );
      }
      out.write('\n');
    }
  }
  return 0;
}
