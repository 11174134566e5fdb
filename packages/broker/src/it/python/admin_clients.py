"""The admin APIs of two Python clients, driven by the admin integration tests.

Run with /usr/bin/python3 (Debian's python3-kafka and python3-confluent-kafka). Reads one JSON
command on stdin, prints one JSON answer on stdout. Every command names its "client":
"kafka-python" (KafkaAdminClient 2.0.2) or "confluent" (confluent-kafka's AdminClient), and
"bootstrap". An error is reported as {"code": Kafka error code, "message": the broker's message};
kafka-python raises the first one instead, answered as {"raised": {"code", "message"}}.

Commands:
  {"op": "create_topics", "topics": [{"name", "partitions", "replication", "assignments": [[ids]]}]}
      -> {"topics": {name: error or null}}
  {"op": "create_partitions", "topic", "count", "assignments": [[ids]] or null}  -> {"error": error or null}
  {"op": "delete_topics", "topics": [names]}      -> {"topics": {name: error or null}}
  {"op": "alter_configs", "topic", "configs": {name: value}}  -> {"error": error or null}
      (AlterConfigs: the configs given become the topic's whole dynamic config)
  {"op": "describe_configs", "topic"}             -> {"configs": {name: value}, "topic_set": [names]}
      (topic_set: the configs whose source is the topic itself)
"""

import json
import sys

REQUEST_TIMEOUT_S = 15


# --- kafka-python ---------------------------------------------------------------------------------


def kafka_python_admin(command):
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=command["bootstrap"],
        client_id="gregor-it-admin",
        request_timeout_ms=REQUEST_TIMEOUT_S * 1000,
    )


def kafka_python_call(request):
    """kafka-python 2.0.2 raises the first topic error, its text holding the whole response (and so
    the broker's message); the answer is then {"raised": {"code", "message"}}."""
    from kafka.errors import KafkaError

    try:
        return request()
    except KafkaError as error:
        return {"raised": {"code": error.errno, "message": str(error)}}


def kafka_python_create_topics(command):
    from kafka.admin import NewTopic

    admin = kafka_python_admin(command)
    try:
        topics = []
        for topic in command["topics"]:
            assignments = topic.get("assignments")
            topics.append(
                NewTopic(
                    topic["name"],
                    topic.get("partitions", -1),
                    topic.get("replication", -1),
                    replica_assignments=None
                    if assignments is None
                    else {index: ids for index, ids in enumerate(assignments)},
                )
            )

        def request():
            response = admin.create_topics(topics, timeout_ms=REQUEST_TIMEOUT_S * 1000)
            return {"topics": {entry[0]: None for entry in response.topic_errors}}

        return kafka_python_call(request)
    finally:
        admin.close()


def kafka_python_create_partitions(command):
    from kafka.admin import NewPartitions

    admin = kafka_python_admin(command)
    try:
        partitions = NewPartitions(command["count"], command.get("assignments"))

        def request():
            admin.create_partitions({command["topic"]: partitions}, timeout_ms=REQUEST_TIMEOUT_S * 1000)
            return {"error": None}

        return kafka_python_call(request)
    finally:
        admin.close()


def kafka_python_delete_topics(command):
    admin = kafka_python_admin(command)
    try:

        def request():
            response = admin.delete_topics(command["topics"], timeout_ms=REQUEST_TIMEOUT_S * 1000)
            return {"topics": {name: None for name, _code in response.topic_error_codes}}

        return kafka_python_call(request)
    finally:
        admin.close()


def kafka_python_alter_configs(command):
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = kafka_python_admin(command)
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, command["topic"], configs=command["configs"])
        response = admin.alter_configs([resource])
        code, message = response.resources[0][0], response.resources[0][1]
        return {"error": None if code == 0 else {"code": code, "message": message}}
    finally:
        admin.close()


def kafka_python_describe_configs(command):
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = kafka_python_admin(command)
    try:
        responses = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, command["topic"])])
        entries = responses[0].resources[0][4]
        version = responses[0].API_VERSION
        # v0: (name, value, read_only, is_default, is_sensitive); v1+: (..., config_source, ...).
        topic_set = [e[0] for e in entries if (not e[3] if version == 0 else e[3] == 1)]
        return {"configs": {e[0]: e[1] for e in entries}, "topic_set": sorted(topic_set)}
    finally:
        admin.close()


# --- confluent-kafka ------------------------------------------------------------------------------


def confluent_admin(command):
    """Keep the client referenced until every future is read: a destroyed client fails them (_DESTROY)."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": command["bootstrap"], "client.id": "gregor-it-admin"})


def confluent_error(future):
    from confluent_kafka import KafkaException

    try:
        future.result()
        return None
    except KafkaException as error:
        kafka_error = error.args[0]
        return {"code": kafka_error.code(), "message": kafka_error.str()}


def confluent_create_topics(command):
    from confluent_kafka.admin import NewTopic

    topics = []
    for topic in command["topics"]:
        assignments = topic.get("assignments")
        if assignments is None:
            topics.append(NewTopic(topic["name"], topic.get("partitions", -1), topic.get("replication", -1)))
        else:
            # Replication factor -1 goes with an assignment; librdkafka sends the partition count -1.
            topics.append(NewTopic(topic["name"], len(assignments), -1, replica_assignment=assignments))
    admin = confluent_admin(command)
    futures = admin.create_topics(topics, request_timeout=REQUEST_TIMEOUT_S)
    return {"topics": {name: confluent_error(future) for name, future in futures.items()}}


def confluent_create_partitions(command):
    from confluent_kafka.admin import NewPartitions

    assignments = command.get("assignments")
    partitions = (
        NewPartitions(command["topic"], command["count"])
        if assignments is None
        else NewPartitions(command["topic"], command["count"], replica_assignment=assignments)
    )
    admin = confluent_admin(command)
    futures = admin.create_partitions([partitions], request_timeout=REQUEST_TIMEOUT_S)
    return {"error": confluent_error(futures[command["topic"]])}


def confluent_delete_topics(command):
    admin = confluent_admin(command)
    futures = admin.delete_topics(command["topics"], request_timeout=REQUEST_TIMEOUT_S)
    return {"topics": {name: confluent_error(future) for name, future in futures.items()}}


def confluent_alter_configs(command):
    from confluent_kafka.admin import ConfigResource

    admin = confluent_admin(command)
    resource = ConfigResource("topic", command["topic"], set_config=command["configs"])
    futures = admin.alter_configs([resource], request_timeout=REQUEST_TIMEOUT_S)
    return {"error": confluent_error(list(futures.values())[0])}


def confluent_describe_configs(command):
    from confluent_kafka.admin import ConfigResource, ConfigSource

    admin = confluent_admin(command)
    futures = admin.describe_configs([ConfigResource("topic", command["topic"])], request_timeout=REQUEST_TIMEOUT_S)
    entries = list(futures.values())[0].result()
    topic_set = [name for name, e in entries.items() if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value]
    return {"configs": {name: e.value for name, e in entries.items()}, "topic_set": sorted(topic_set)}


OPS = {
    "kafka-python": {
        "create_topics": kafka_python_create_topics,
        "create_partitions": kafka_python_create_partitions,
        "delete_topics": kafka_python_delete_topics,
        "alter_configs": kafka_python_alter_configs,
        "describe_configs": kafka_python_describe_configs,
    },
    "confluent": {
        "create_topics": confluent_create_topics,
        "create_partitions": confluent_create_partitions,
        "delete_topics": confluent_delete_topics,
        "alter_configs": confluent_alter_configs,
        "describe_configs": confluent_describe_configs,
    },
}


def main():
    command = json.load(sys.stdin)
    answer = OPS[command["client"]][command["op"]](command)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
