"""kafka-python 2.0.2's KafkaAdminClient for the group and ACL APIs, driven by
admin-clients.integration.test.ts. Run with /usr/bin/python3 (Debian's python3-kafka). Reads one
JSON command on stdin and prints one JSON answer on stdout; several calls run in one process.

Commands:
  {"op": "groups", "describe": [group ids], "delete": [group ids]}
      -> {"listed": [[group id, protocol type]],
          "described": [{"group", "error", "state", "protocol_type", "protocol",
                         "members": [{"client_id", "topics": [subscribed], "assigned": {topic: [partitions]}}]}],
          "deleted": [[group id, error code]], "listed_after": [group ids]}
      (ListGroups, DescribeGroups, DeleteGroups, then ListGroups again)
  {"op": "create_acls", "acls": [acl]}  -> {"succeeded": [acl], "failed": [[acl, error code]]}
  {"op": "describe_acls", "filter": acl}  -> {"acls": [acl], "error": error code}
  {"op": "delete_acls", "filters": [acl]}  -> {"results": [{"error": code, "deleted": [[acl, code]]}]}
  An acl: {"principal", "host", "operation", "permission", "resource_type", "name", "pattern"}, the
  enum members by name (READ, ALLOW, TOPIC, LITERAL; ANY in a filter).
"""

import json
import sys

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

REQUEST_TIMEOUT_MS = 15_000


def error_code(error):
    return error.errno if error is not None else 0


def acl_json(acl):
    return {
        "principal": acl.principal,
        "host": acl.host,
        "operation": acl.operation.name,
        "permission": acl.permission_type.name,
        "resource_type": acl.resource_pattern.resource_type.name,
        "name": acl.resource_pattern.resource_name,
        "pattern": acl.resource_pattern.pattern_type.name,
    }


def acl_of(spec, filter_type):
    pattern_type = ResourcePatternFilter if filter_type else ResourcePattern
    pattern = pattern_type(
        ResourceType[spec["resource_type"]],
        spec.get("name"),
        ACLResourcePatternType[spec["pattern"]],
    )
    acl_type = ACLFilter if filter_type else ACL
    return acl_type(
        principal=spec.get("principal"),
        host=spec.get("host"),
        operation=ACLOperation[spec["operation"]],
        permission_type=ACLPermissionType[spec["permission"]],
        resource_pattern=pattern,
    )


def groups(admin, command):
    described = []
    for info in admin.describe_consumer_groups(command["describe"]):
        members = []
        for member in info.members:
            metadata = member.member_metadata
            assignment = member.member_assignment
            members.append(
                {
                    "client_id": member.client_id,
                    "topics": sorted(metadata.subscription) if metadata else [],
                    "assigned": {topic: sorted(parts) for topic, parts in assignment.assignment}
                    if assignment
                    else {},
                }
            )
        described.append(
            {
                "group": info.group,
                "error": info.error_code,
                "state": info.state,
                "protocol_type": info.protocol_type,
                "protocol": info.protocol,
                "members": members,
            }
        )
    listed = [list(entry) for entry in admin.list_consumer_groups()]
    deleted = [[group, error_code(error)] for group, error in admin.delete_consumer_groups(command["delete"])]
    listed_after = sorted(group for group, _ in admin.list_consumer_groups())
    return {"listed": listed, "described": described, "deleted": deleted, "listed_after": listed_after}


def main():
    command = json.load(sys.stdin)
    admin = KafkaAdminClient(
        bootstrap_servers=command["bootstrap"],
        client_id="kafka-python-admin",
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        op = command["op"]
        if op == "groups":
            answer = groups(admin, command)
        elif op == "create_acls":
            result = admin.create_acls([acl_of(spec, False) for spec in command["acls"]])
            answer = {
                "succeeded": [acl_json(acl) for acl in result["succeeded"]],
                "failed": [[acl_json(acl), error_code(error)] for acl, error in result["failed"]],
            }
        elif op == "describe_acls":
            acls, error = admin.describe_acls(acl_of(command["filter"], True))
            answer = {"acls": [acl_json(acl) for acl in acls], "error": error_code(error)}
        elif op == "delete_acls":
            results = admin.delete_acls([acl_of(spec, True) for spec in command["filters"]])
            answer = {
                "results": [
                    {
                        "error": error_code(error),
                        "deleted": [[acl_json(acl), error_code(acl_error)] for acl, acl_error in matches],
                    }
                    for _, matches, error in results
                ]
            }
        else:
            raise ValueError(f"unknown op {op}")
    finally:
        admin.close()
    json.dump(answer, sys.stdout)


main()
