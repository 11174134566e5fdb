"""librdkafka's own C admin API (rd_kafka_DescribeCluster, rd_kafka_ElectLeaders, ...) through ctypes,
driven by admin-clients.integration.test.ts. These are the calls confluent-kafka for Go, .NET and
newer Python wrap; Debian's confluent-kafka-python 1.7 binding does not expose them. Run with
LD_LIBRARY_PATH on the librdkafka 2.15 that scripts/build-librdkafka.sh built: the answer carries
the version the library reports. Reads {"bootstrap", "steps": [step]} on stdin, runs the steps in
order on one client and prints {"librdkafka": the library's version, "answers": [answer per step]}.

Steps:
  {"op": "describe_cluster"}  -> {"nodes": [ids], "controller": id, "cluster_id"}
  {"op": "elect_leaders", "partitions": [[topic, partition]], "election_type": "PREFERRED" | "UNCLEAN"}
      -> {"partitions": [[topic, partition, code]]}   (election_type defaults to PREFERRED)
  {"op": "incremental_alter_configs", "topic", "ops": [[name, op (SET/DELETE/APPEND/SUBTRACT), value]]}
      -> {"error": code}
  {"op": "delete_group_offsets", "group", "partitions": [[topic, partition]]}
      -> {"error": code, "partitions": [[topic, partition, code]]}
  {"op": "delete_records", "partitions": [[topic, partition, before offset]]}
      -> {"partitions": [[topic, partition, low watermark, code]]}
  {"op": "upsert_scram", "user", "mechanism": "SCRAM-SHA-256" | "SCRAM-SHA-512", "iterations", "password"}
      -> {"error": code}
  {"op": "delete_scram", "user", "mechanism"}  -> {"error": code}
  {"op": "describe_scram", "users": [names]}
      -> {"error": code, "users": {user: {"error": code, "credentials": [[mechanism, iterations]]}}}
  {"op": "describe_consumer_groups", "groups": [ids]}
      -> {"groups": [{"group", "error", "state" (STATE_NAMES), "type" (TYPE_NAMES), "assignor",
          "simple", "coordinator", "members": [{"member_id", "client_id", "instance_id", "host",
          "assignment": [[topic, partition]], "target_assignment": [[topic, partition]] or null}]}]}
      (librdkafka sends ConsumerGroupDescribe first and DescribeGroups for a classic group)
Codes are Kafka's error codes (librdkafka's broker error codes are the same numbers); 0 for none.
"""

import ctypes
import json
import sys
from ctypes import POINTER, byref, c_char_p, c_int, c_int32, c_int64, c_size_t, c_void_p

POLL_TIMEOUT_MS = 30_000
RD_KAFKA_PRODUCER = 0
RD_KAFKA_ADMIN_OP_ANY = 0
RESOURCE_TOPIC = 2
# rd_kafka_ElectionType_t (rdkafka.h).
ELECTION_TYPES = {"PREFERRED": 0, "UNCLEAN": 1}
CONFIG_OPS = {"SET": 0, "DELETE": 1, "APPEND": 2, "SUBTRACT": 3}
SCRAM_MECHANISMS = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
SCRAM_NAMES = {value: name for name, value in SCRAM_MECHANISMS.items()}
# rd_kafka_consumer_group_state_t and rd_kafka_consumer_group_type_t (rdkafka.h).
STATE_NAMES = ["Unknown", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty"]
TYPE_NAMES = ["Unknown", "Consumer", "Classic"]


class TopicPartition(ctypes.Structure):
    _fields_ = [
        ("topic", c_char_p),
        ("partition", c_int32),
        ("offset", c_int64),
        ("metadata", c_void_p),
        ("metadata_size", c_size_t),
        ("opaque", c_void_p),
        ("err", c_int),
        ("_private", c_void_p),
    ]


class TopicPartitionList(ctypes.Structure):
    _fields_ = [("cnt", c_int), ("size", c_int), ("elems", POINTER(TopicPartition))]


lib = ctypes.CDLL("librdkafka.so.1")


def fn(name, restype, *argtypes):
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


version_str = fn("rd_kafka_version_str", c_char_p)
conf_new = fn("rd_kafka_conf_new", c_void_p)
conf_set = fn("rd_kafka_conf_set", c_int, c_void_p, c_char_p, c_char_p, c_char_p, c_size_t)
kafka_new = fn("rd_kafka_new", c_void_p, c_int, c_void_p, c_char_p, c_size_t)
kafka_destroy = fn("rd_kafka_destroy", None, c_void_p)
queue_new = fn("rd_kafka_queue_new", c_void_p, c_void_p)
queue_destroy = fn("rd_kafka_queue_destroy", None, c_void_p)
queue_poll = fn("rd_kafka_queue_poll", c_void_p, c_void_p, c_int)
event_error = fn("rd_kafka_event_error", c_int, c_void_p)
event_error_string = fn("rd_kafka_event_error_string", c_char_p, c_void_p)
event_destroy = fn("rd_kafka_event_destroy", None, c_void_p)
options_new = fn("rd_kafka_AdminOptions_new", c_void_p, c_void_p, c_int)
options_destroy = fn("rd_kafka_AdminOptions_destroy", None, c_void_p)
error_code = fn("rd_kafka_error_code", c_int, c_void_p)
tpl_new = fn("rd_kafka_topic_partition_list_new", POINTER(TopicPartitionList), c_int)
tpl_add = fn(
    "rd_kafka_topic_partition_list_add", POINTER(TopicPartition), POINTER(TopicPartitionList), c_char_p, c_int32
)
tpl_destroy = fn("rd_kafka_topic_partition_list_destroy", None, POINTER(TopicPartitionList))
node_id = fn("rd_kafka_Node_id", c_int, c_void_p)


def code_of(error):
    return error_code(error) if error else 0


def partition_list(pairs):
    tpl = tpl_new(len(pairs))
    for topic, partition in pairs:
        tpl_add(tpl, topic.encode(), partition)
    return tpl


def run(rk, start, result_of):
    """Starts one admin call on a new queue and returns its result pointer and event."""
    queue = queue_new(rk)
    options = options_new(rk, RD_KAFKA_ADMIN_OP_ANY)
    start(options, queue)
    event = queue_poll(queue, POLL_TIMEOUT_MS)
    options_destroy(options)
    queue_destroy(queue)
    if not event:
        raise RuntimeError("no admin result within the poll timeout")
    if event_error(event):
        message = event_error_string(event).decode()
        code = event_error(event)
        event_destroy(event)
        raise RuntimeError(f"admin call failed: {code} {message}")
    return result_of(event), event


def describe_cluster(rk, _command):
    start = fn("rd_kafka_DescribeCluster", None, c_void_p, c_void_p, c_void_p)
    result_of = fn("rd_kafka_event_DescribeCluster_result", c_void_p, c_void_p)
    nodes_of = fn("rd_kafka_DescribeCluster_result_nodes", POINTER(c_void_p), c_void_p, POINTER(c_size_t))
    controller_of = fn("rd_kafka_DescribeCluster_result_controller", c_void_p, c_void_p)
    cluster_id_of = fn("rd_kafka_DescribeCluster_result_cluster_id", c_char_p, c_void_p)
    result, event = run(rk, lambda options, queue: start(rk, options, queue), result_of)
    count = c_size_t()
    nodes = nodes_of(result, byref(count))
    controller = controller_of(result)
    answer = {
        "nodes": sorted(node_id(nodes[index]) for index in range(count.value)),
        "controller": node_id(controller) if controller else None,
        "cluster_id": (cluster_id_of(result) or b"").decode(),
    }
    event_destroy(event)
    return answer


def elect_leaders(rk, command):
    new = fn("rd_kafka_ElectLeaders_new", c_void_p, c_int, POINTER(TopicPartitionList))
    destroy = fn("rd_kafka_ElectLeaders_destroy", None, c_void_p)
    start = fn("rd_kafka_ElectLeaders", None, c_void_p, c_void_p, c_void_p, c_void_p)
    result_of = fn("rd_kafka_event_ElectLeaders_result", c_void_p, c_void_p)
    partitions_of = fn("rd_kafka_ElectLeaders_result_partitions", POINTER(c_void_p), c_void_p, POINTER(c_size_t))
    partition_of = fn("rd_kafka_topic_partition_result_partition", POINTER(TopicPartition), c_void_p)
    error_of = fn("rd_kafka_topic_partition_result_error", c_void_p, c_void_p)
    tpl = partition_list(command["partitions"])
    request = new(ELECTION_TYPES[command.get("election_type", "PREFERRED")], tpl)
    tpl_destroy(tpl)
    result, event = run(rk, lambda options, queue: start(rk, request, options, queue), result_of)
    destroy(request)
    count = c_size_t()
    results = partitions_of(result, byref(count))
    partitions = []
    for index in range(count.value):
        partition = partition_of(results[index]).contents
        partitions.append([partition.topic.decode(), partition.partition, code_of(error_of(results[index]))])
    event_destroy(event)
    return {"partitions": sorted(partitions)}


def incremental_alter_configs(rk, command):
    resource_new = fn("rd_kafka_ConfigResource_new", c_void_p, c_int, c_char_p)
    resource_destroy = fn("rd_kafka_ConfigResource_destroy", None, c_void_p)
    add = fn("rd_kafka_ConfigResource_add_incremental_config", c_void_p, c_void_p, c_char_p, c_int, c_char_p)
    start = fn("rd_kafka_IncrementalAlterConfigs", None, c_void_p, POINTER(c_void_p), c_size_t, c_void_p, c_void_p)
    result_of = fn("rd_kafka_event_IncrementalAlterConfigs_result", c_void_p, c_void_p)
    resources_of = fn(
        "rd_kafka_IncrementalAlterConfigs_result_resources", POINTER(c_void_p), c_void_p, POINTER(c_size_t)
    )
    resource_error = fn("rd_kafka_ConfigResource_error", c_int, c_void_p)
    resource = resource_new(RESOURCE_TOPIC, command["topic"].encode())
    for name, op, value in command["ops"]:
        error = add(resource, name.encode(), CONFIG_OPS[op], value.encode() if value is not None else None)
        if error:
            raise RuntimeError(f"add_incremental_config {name}: {error_code(error)}")
    resources = (c_void_p * 1)(resource)
    result, event = run(rk, lambda options, queue: start(rk, resources, 1, options, queue), result_of)
    resource_destroy(resource)
    count = c_size_t()
    results = resources_of(result, byref(count))
    answer = {"error": resource_error(results[0]) if count.value == 1 else -1}
    event_destroy(event)
    return answer


def delete_group_offsets(rk, command):
    new = fn("rd_kafka_DeleteConsumerGroupOffsets_new", c_void_p, c_char_p, POINTER(TopicPartitionList))
    destroy = fn("rd_kafka_DeleteConsumerGroupOffsets_destroy", None, c_void_p)
    start = fn("rd_kafka_DeleteConsumerGroupOffsets", None, c_void_p, POINTER(c_void_p), c_size_t, c_void_p, c_void_p)
    result_of = fn("rd_kafka_event_DeleteConsumerGroupOffsets_result", c_void_p, c_void_p)
    groups_of = fn(
        "rd_kafka_DeleteConsumerGroupOffsets_result_groups", POINTER(c_void_p), c_void_p, POINTER(c_size_t)
    )
    group_error = fn("rd_kafka_group_result_error", c_void_p, c_void_p)
    group_partitions = fn("rd_kafka_group_result_partitions", POINTER(TopicPartitionList), c_void_p)
    tpl = partition_list(command["partitions"])
    request = new(command["group"].encode(), tpl)
    tpl_destroy(tpl)
    requests = (c_void_p * 1)(request)
    result, event = run(rk, lambda options, queue: start(rk, requests, 1, options, queue), result_of)
    destroy(request)
    count = c_size_t()
    groups = groups_of(result, byref(count))
    partitions = []
    tpl_result = group_partitions(groups[0])
    if tpl_result:
        listing = tpl_result.contents
        for index in range(listing.cnt):
            entry = listing.elems[index]
            partitions.append([entry.topic.decode(), entry.partition, entry.err])
    answer = {"error": code_of(group_error(groups[0])), "partitions": sorted(partitions)}
    event_destroy(event)
    return answer


def delete_records(rk, command):
    new = fn("rd_kafka_DeleteRecords_new", c_void_p, POINTER(TopicPartitionList))
    destroy = fn("rd_kafka_DeleteRecords_destroy", None, c_void_p)
    start = fn("rd_kafka_DeleteRecords", None, c_void_p, POINTER(c_void_p), c_size_t, c_void_p, c_void_p)
    result_of = fn("rd_kafka_event_DeleteRecords_result", c_void_p, c_void_p)
    offsets_of = fn("rd_kafka_DeleteRecords_result_offsets", POINTER(TopicPartitionList), c_void_p)
    tpl = tpl_new(len(command["partitions"]))
    for topic, partition, offset in command["partitions"]:
        tpl_add(tpl, topic.encode(), partition).contents.offset = offset
    request = new(tpl)
    tpl_destroy(tpl)
    requests = (c_void_p * 1)(request)
    result, event = run(rk, lambda options, queue: start(rk, requests, 1, options, queue), result_of)
    destroy(request)
    listing = offsets_of(result).contents
    partitions = []
    for index in range(listing.cnt):
        entry = listing.elems[index]
        partitions.append([entry.topic.decode(), entry.partition, entry.offset, entry.err])
    event_destroy(event)
    return {"partitions": sorted(partitions)}


def alter_scram(rk, alteration):
    destroy = fn("rd_kafka_UserScramCredentialAlteration_destroy", None, c_void_p)
    start = fn(
        "rd_kafka_AlterUserScramCredentials", None, c_void_p, POINTER(c_void_p), c_size_t, c_void_p, c_void_p
    )
    result_of = fn("rd_kafka_event_AlterUserScramCredentials_result", c_void_p, c_void_p)
    responses_of = fn(
        "rd_kafka_AlterUserScramCredentials_result_responses", POINTER(c_void_p), c_void_p, POINTER(c_size_t)
    )
    response_error = fn("rd_kafka_AlterUserScramCredentials_result_response_error", c_void_p, c_void_p)
    alterations = (c_void_p * 1)(alteration)
    result, event = run(rk, lambda options, queue: start(rk, alterations, 1, options, queue), result_of)
    destroy(alteration)
    count = c_size_t()
    responses = responses_of(result, byref(count))
    answer = {"error": code_of(response_error(responses[0])) if count.value == 1 else -1}
    event_destroy(event)
    return answer


def upsert_scram(rk, command):
    new = fn(
        "rd_kafka_UserScramCredentialUpsertion_new",
        c_void_p,
        c_char_p,
        c_int,
        c_int32,
        c_char_p,
        c_size_t,
        c_char_p,
        c_size_t,
    )
    password = command["password"].encode()
    alteration = new(
        command["user"].encode(),
        SCRAM_MECHANISMS[command["mechanism"]],
        command["iterations"],
        password,
        len(password),
        None,
        0,
    )
    return alter_scram(rk, alteration)


def delete_scram(rk, command):
    new = fn("rd_kafka_UserScramCredentialDeletion_new", c_void_p, c_char_p, c_int)
    return alter_scram(rk, new(command["user"].encode(), SCRAM_MECHANISMS[command["mechanism"]]))


def describe_scram(rk, command):
    start = fn(
        "rd_kafka_DescribeUserScramCredentials", None, c_void_p, POINTER(c_char_p), c_size_t, c_void_p, c_void_p
    )
    result_of = fn("rd_kafka_event_DescribeUserScramCredentials_result", c_void_p, c_void_p)
    descriptions_of = fn(
        "rd_kafka_DescribeUserScramCredentials_result_descriptions",
        POINTER(c_void_p),
        c_void_p,
        POINTER(c_size_t),
    )
    user_of = fn("rd_kafka_UserScramCredentialsDescription_user", c_char_p, c_void_p)
    error_of = fn("rd_kafka_UserScramCredentialsDescription_error", c_void_p, c_void_p)
    info_count = fn("rd_kafka_UserScramCredentialsDescription_scramcredentialinfo_count", c_size_t, c_void_p)
    info_of = fn("rd_kafka_UserScramCredentialsDescription_scramcredentialinfo", c_void_p, c_void_p, c_size_t)
    mechanism_of = fn("rd_kafka_ScramCredentialInfo_mechanism", c_int, c_void_p)
    iterations_of = fn("rd_kafka_ScramCredentialInfo_iterations", c_int32, c_void_p)
    users = (c_char_p * len(command["users"]))(*[user.encode() for user in command["users"]])
    result, event = run(
        rk, lambda options, queue: start(rk, users, len(command["users"]), options, queue), result_of
    )
    count = c_size_t()
    descriptions = descriptions_of(result, byref(count))
    described = {}
    for index in range(count.value):
        description = descriptions[index]
        credentials = []
        for info_index in range(info_count(description)):
            info = info_of(description, info_index)
            credentials.append([SCRAM_NAMES.get(mechanism_of(info), "UNKNOWN"), iterations_of(info)])
        described[user_of(description).decode()] = {
            "error": code_of(error_of(description)),
            "credentials": sorted(credentials),
        }
    event_destroy(event)
    return {"error": 0, "users": described}


def pairs_of(tpl_pointer):
    if not tpl_pointer:
        return None
    listing = tpl_pointer.contents
    return sorted([listing.elems[index].topic.decode(), listing.elems[index].partition] for index in range(listing.cnt))


def text(value):
    return value.decode() if value is not None else None


def describe_consumer_groups(rk, command):
    start = fn("rd_kafka_DescribeConsumerGroups", None, c_void_p, POINTER(c_char_p), c_size_t, c_void_p, c_void_p)
    result_of = fn("rd_kafka_event_DescribeConsumerGroups_result", c_void_p, c_void_p)
    groups_of = fn("rd_kafka_DescribeConsumerGroups_result_groups", POINTER(c_void_p), c_void_p, POINTER(c_size_t))
    group_id = fn("rd_kafka_ConsumerGroupDescription_group_id", c_char_p, c_void_p)
    group_error = fn("rd_kafka_ConsumerGroupDescription_error", c_void_p, c_void_p)
    simple = fn("rd_kafka_ConsumerGroupDescription_is_simple_consumer_group", c_int, c_void_p)
    assignor = fn("rd_kafka_ConsumerGroupDescription_partition_assignor", c_char_p, c_void_p)
    state = fn("rd_kafka_ConsumerGroupDescription_state", c_int, c_void_p)
    group_type = fn("rd_kafka_ConsumerGroupDescription_type", c_int, c_void_p)
    coordinator = fn("rd_kafka_ConsumerGroupDescription_coordinator", c_void_p, c_void_p)
    member_count = fn("rd_kafka_ConsumerGroupDescription_member_count", c_size_t, c_void_p)
    member_of = fn("rd_kafka_ConsumerGroupDescription_member", c_void_p, c_void_p, c_size_t)
    client_id = fn("rd_kafka_MemberDescription_client_id", c_char_p, c_void_p)
    instance_id = fn("rd_kafka_MemberDescription_group_instance_id", c_char_p, c_void_p)
    consumer_id = fn("rd_kafka_MemberDescription_consumer_id", c_char_p, c_void_p)
    host = fn("rd_kafka_MemberDescription_host", c_char_p, c_void_p)
    assignment_of = fn("rd_kafka_MemberDescription_assignment", c_void_p, c_void_p)
    target_of = fn("rd_kafka_MemberDescription_target_assignment", c_void_p, c_void_p)
    partitions_of = fn("rd_kafka_MemberAssignment_partitions", POINTER(TopicPartitionList), c_void_p)
    ids = (c_char_p * len(command["groups"]))(*[group.encode() for group in command["groups"]])
    result, event = run(rk, lambda options, queue: start(rk, ids, len(command["groups"]), options, queue), result_of)
    count = c_size_t()
    descriptions = groups_of(result, byref(count))
    groups = []
    for index in range(count.value):
        description = descriptions[index]
        members = []
        for member_index in range(member_count(description)):
            member = member_of(description, member_index)
            target = target_of(member)
            members.append(
                {
                    "member_id": text(consumer_id(member)),
                    "client_id": text(client_id(member)),
                    "instance_id": text(instance_id(member)),
                    "host": text(host(member)),
                    "assignment": pairs_of(partitions_of(assignment_of(member))) or [],
                    "target_assignment": pairs_of(partitions_of(target)) if target else None,
                }
            )
        node = coordinator(description)
        groups.append(
            {
                "group": text(group_id(description)),
                "error": code_of(group_error(description)),
                "state": STATE_NAMES[state(description)],
                "type": TYPE_NAMES[group_type(description)],
                "assignor": text(assignor(description)),
                "simple": bool(simple(description)),
                "coordinator": node_id(node) if node else None,
                "members": sorted(members, key=lambda member: member["client_id"] or ""),
            }
        )
    event_destroy(event)
    return {"groups": groups}


OPS = {
    "describe_cluster": describe_cluster,
    "elect_leaders": elect_leaders,
    "incremental_alter_configs": incremental_alter_configs,
    "delete_group_offsets": delete_group_offsets,
    "delete_records": delete_records,
    "upsert_scram": upsert_scram,
    "delete_scram": delete_scram,
    "describe_scram": describe_scram,
    "describe_consumer_groups": describe_consumer_groups,
}


def main():
    command = json.load(sys.stdin)
    conf = conf_new()
    errstr = ctypes.create_string_buffer(512)
    for name, value in (("bootstrap.servers", command["bootstrap"]), ("client.id", "librdkafka-admin")):
        if conf_set(conf, name.encode(), value.encode(), errstr, len(errstr)) != 0:
            raise RuntimeError(errstr.value.decode())
    rk = kafka_new(RD_KAFKA_PRODUCER, conf, errstr, len(errstr))
    if not rk:
        raise RuntimeError(errstr.value.decode())
    try:
        answers = [OPS[step["op"]](rk, step) for step in command["steps"]]
    finally:
        kafka_destroy(rk)
    json.dump({"librdkafka": version_str().decode(), "answers": answers}, sys.stdout)


main()
