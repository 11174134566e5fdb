"""confluent-kafka-python (Debian python3-confluent-kafka) driven by the integration tests.

Run with /usr/bin/python3 and LD_LIBRARY_PATH pointing at the librdkafka to test. Reads one JSON
command on stdin, prints one JSON answer on stdout; every answer carries "librdkafka", the version
rd_kafka_version_str() reports, so a test can refuse to pass on another library than it meant.
Keys and values travel as UTF-8 text.

Commands (all with "bootstrap", and optionally "client_config": more librdkafka properties, such
as security.protocol, ssl.ca.location or sasl.mechanisms, as the librdkafka docs name them):
  {"op": "create_topics", "topics": [{"name", "partitions", "replication", "config": {}}]}
      -> {"topics": {name: error name or null}}
  {"op": "delete_topics", "topics": [names]}              -> {"topics": {name: error name or null}}
  {"op": "create_partitions", "topic", "count"}           -> {"error": error name or null}
  {"op": "describe_configs", "topic"}                     -> {"configs": {name: value}}
  {"op": "list_topics"}   -> {"brokers": [ids], "controller_id", "topics": {name: partition count}}
  {"op": "produce", "topic", "idempotent": bool, "compression": "none"|..., "client_id" (optional),
      "records": [{"partition", "key", "value"}]}
      -> {"delivered": [{"partition", "offset"}], "throttles_ms": [throttle time of every response
          the broker throttled, as librdkafka's throttle_cb reports them]}
  {"op": "produce_outcomes", "topic", "partition", "records": [{"key" (null: keyless), "value"}],
      "linger_ms"}   one producer (acks=all, not idempotent) sends them all, then flushes
      -> {"outcomes": [{"value", "error": error name or null, "offset"}] in the order sent}
  {"op": "group_consume", "topic", "group", "count", "timeout_ms"}
      subscribes, reads `count` records, commits them synchronously, closes
      -> {"records": [{"partition", "offset", "key", "value"}], "committed": {partition: offset}}
  {"op": "committed", "topic", "group", "partitions": [..]} -> {"committed": {partition: offset}}
  {"op": "produce_consume_for", "topic", "seconds", "interval_ms"}
      one producer and one consumer (assigned partition 0 from the beginning) kept open for
      `seconds`: a record every `interval_ms`, each flushed, the consumer polled in between
      -> {"delivered": n, "consumed": [values], "errors": [client error names]}
  {"op": "list_groups"}   -> {"groups": [{"id", "state", "protocol_type", "protocol", "members"}]}
  {"op": "consume_across_leader_change", "topic", "partition", "before", "after", "ready_file",
      "timeout_ms"}
      one consumer (assigned the partition from the beginning) reads `before` records, creates
      `ready_file` and keeps polling (the test changes the leader meanwhile and produces more)
      until it has `before + after` records
      -> {"records": [{"offset", "value"}], "errors": [client error names]}
  {"op": "consume_until_truncation", "topic", "partitions": [..], "count", "ready_file", "timeout_ms"}
      one consumer with auto.offset.reset=error (assigned the partitions from the beginning) reads
      `count` records of each, creates `ready_file` and keeps polling until every partition has
      reported an error (the test makes the partitions' logs diverge meanwhile) or the time is up
      -> {"records": [{"partition", "offset", "value"}],
          "partition_errors": [{"partition", "code", "name", "reason"}]}
"""

import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

REQUEST_TIMEOUT_S = 15


def common(command, client_id):
    return {
        "bootstrap.servers": command["bootstrap"],
        "client.id": client_id,
        **command.get("client_config", {}),
    }


def error_name(future):
    try:
        future.result()
        return None
    except KafkaException as error:
        return error.args[0].name()


def create_topics(command):
    admin = AdminClient(common(command, "gregor-it-admin"))
    topics = [
        NewTopic(t["name"], t["partitions"], t["replication"], config=t.get("config", {}))
        for t in command["topics"]
    ]
    futures = admin.create_topics(topics, request_timeout=REQUEST_TIMEOUT_S)
    return {"topics": {name: error_name(future) for name, future in futures.items()}}


def delete_topics(command):
    admin = AdminClient(common(command, "gregor-it-admin"))
    futures = admin.delete_topics(command["topics"], request_timeout=REQUEST_TIMEOUT_S)
    return {"topics": {name: error_name(future) for name, future in futures.items()}}


def create_partitions(command):
    admin = AdminClient(common(command, "gregor-it-admin"))
    futures = admin.create_partitions(
        [NewPartitions(command["topic"], command["count"])], request_timeout=REQUEST_TIMEOUT_S
    )
    return {"error": error_name(futures[command["topic"]])}


def describe_configs(command):
    admin = AdminClient(common(command, "gregor-it-admin"))
    resource = ConfigResource("topic", command["topic"])
    futures = admin.describe_configs([resource], request_timeout=REQUEST_TIMEOUT_S)
    entries = list(futures.values())[0].result()
    return {"configs": {name: entry.value for name, entry in entries.items()}}


def list_topics(command):
    admin = AdminClient(common(command, "gregor-it-admin"))
    metadata = admin.list_topics(timeout=REQUEST_TIMEOUT_S)
    return {
        "brokers": sorted(metadata.brokers),
        "controller_id": metadata.controller_id,
        "topics": {name: len(topic.partitions) for name, topic in metadata.topics.items()},
    }


def produce(command):
    config = common(command, command.get("client_id", "gregor-it-producer"))
    throttles_ms = []
    config.update(
        {
            "acks": "all",
            "enable.idempotence": command.get("idempotent", False),
            "compression.type": command.get("compression", "none"),
            "linger.ms": 5,
            # Served by flush(): librdkafka calls it for every response with throttle_time_ms > 0.
            "throttle_cb": lambda event: throttles_ms.append(round(event.throttle_time * 1000)),
        }
    )
    producer = Producer(config)
    delivered = []
    failures = []

    def on_delivery(error, message):
        if error is not None:
            failures.append(error.name())
        else:
            delivered.append({"partition": message.partition(), "offset": message.offset()})

    for record in command["records"]:
        producer.produce(
            command["topic"],
            key=record["key"].encode(),
            value=record["value"].encode(),
            partition=record["partition"],
            on_delivery=on_delivery,
        )
    remaining = producer.flush(REQUEST_TIMEOUT_S)
    if remaining or failures:
        raise RuntimeError(f"produce: {remaining} undelivered, failures {failures}")
    return {"delivered": delivered, "throttles_ms": throttles_ms}


def produce_outcomes(command):
    config = common(command, "gregor-it-producer")
    config.update({"acks": "all", "linger.ms": command.get("linger_ms", 5)})
    producer = Producer(config)
    outcomes = [None] * len(command["records"])

    def on_delivery_of(index):
        def on_delivery(error, message):
            outcomes[index] = {
                "value": message.value().decode(),
                "error": None if error is None else error.name(),
                "offset": message.offset(),
            }

        return on_delivery

    for index, record in enumerate(command["records"]):
        key = record["key"]
        producer.produce(
            command["topic"],
            key=None if key is None else key.encode(),
            value=record["value"].encode(),
            partition=command["partition"],
            on_delivery=on_delivery_of(index),
        )
    remaining = producer.flush(REQUEST_TIMEOUT_S)
    if remaining:
        raise RuntimeError(f"produce_outcomes: {remaining} undelivered")
    return {"outcomes": outcomes}


def produce_consume_for(command):
    errors = []

    def on_error(error):
        errors.append(error.name())

    producer = Producer({**common(command, "gregor-it-producer"), "acks": "all", "error_cb": on_error})
    consumer = Consumer(
        {
            **common(command, "gregor-it-consumer"),
            "group.id": "gregor-it-unused",
            "enable.auto.commit": False,
            "error_cb": on_error,
        }
    )
    consumer.assign([TopicPartition(command["topic"], 0, confluent_kafka.OFFSET_BEGINNING)])
    delivered = []
    consumed = []

    def on_delivery(error, message):
        if error is not None:
            errors.append(error.name())
        else:
            delivered.append(message.offset())

    deadline = time.monotonic() + command["seconds"]
    index = 0
    while time.monotonic() < deadline:
        producer.produce(command["topic"], value=f"r{index}".encode(), partition=0, on_delivery=on_delivery)
        index += 1
        producer.flush(REQUEST_TIMEOUT_S)
        poll_until = time.monotonic() + command["interval_ms"] / 1000
        while time.monotonic() < poll_until:
            message = consumer.poll(0.05)
            if message is not None and message.error() is None:
                consumed.append(message.value().decode())
    drain_until = time.monotonic() + REQUEST_TIMEOUT_S
    while len(consumed) < index and time.monotonic() < drain_until:
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            consumed.append(message.value().decode())
    consumer.close()
    return {"delivered": len(delivered), "produced": index, "consumed": consumed, "errors": errors}


def group_consume(command):
    config = common(command, "gregor-it-consumer")
    config.update(
        {
            "group.id": command["group"],
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
        }
    )
    consumer = Consumer(config)
    consumer.subscribe([command["topic"]])
    records = []
    deadline = time.monotonic() + command["timeout_ms"] / 1000
    try:
        while len(records) < command["count"] and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                raise KafkaException(message.error())
            records.append(
                {
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "key": message.key().decode(),
                    "value": message.value().decode(),
                }
            )
        if records:
            consumer.commit(asynchronous=False)
        positions = consumer.committed(consumer.assignment(), timeout=REQUEST_TIMEOUT_S)
        committed = {str(tp.partition): tp.offset for tp in positions}
    finally:
        consumer.close()
    return {"records": records, "committed": committed}


def committed(command):
    config = common(command, "gregor-it-consumer")
    config["group.id"] = command["group"]
    consumer = Consumer(config)
    try:
        partitions = [TopicPartition(command["topic"], p) for p in command["partitions"]]
        positions = consumer.committed(partitions, timeout=REQUEST_TIMEOUT_S)
        return {"committed": {str(tp.partition): tp.offset for tp in positions}}
    finally:
        consumer.close()


def list_groups(command):
    admin = AdminClient(common(command, "gregor-it-admin"))
    groups = admin.list_groups(timeout=REQUEST_TIMEOUT_S)
    return {
        "groups": [
            {
                "id": group.id,
                "state": group.state,
                "protocol_type": group.protocol_type,
                "protocol": group.protocol,
                "members": [{"id": m.id, "client_id": m.client_id} for m in group.members],
            }
            for group in groups
        ]
    }


def consume_across_leader_change(command):
    errors = []
    consumer = Consumer(
        {
            **common(command, "gregor-it-consumer"),
            "group.id": "gregor-it-unused",
            "enable.auto.commit": False,
            "error_cb": lambda error: errors.append(error.name()),
        }
    )
    consumer.assign(
        [TopicPartition(command["topic"], command["partition"], confluent_kafka.OFFSET_BEGINNING)]
    )
    records = []
    wanted = command["before"] + command["after"]
    deadline = time.monotonic() + command["timeout_ms"] / 1000
    ready = False

    try:
        while len(records) < wanted and time.monotonic() < deadline:
            if not ready and len(records) >= command["before"]:
                with open(command["ready_file"], "w", encoding="utf-8") as ready_file:
                    ready_file.write("ready")
                ready = True
            message = consumer.poll(0.1)
            if message is None:
                continue
            if message.error() is not None:
                errors.append(message.error().name())
                continue
            records.append({"offset": message.offset(), "value": message.value().decode()})
    finally:
        consumer.close()
    return {"records": records, "errors": errors}


def consume_until_truncation(command):
    consumer = Consumer(
        {
            **common(command, "gregor-it-truncation"),
            "group.id": "gregor-it-unused",
            "enable.auto.commit": False,
            # Log truncation found by offset validation (KIP-320) is then an error, not a silent seek.
            "auto.offset.reset": "error",
            # Broker connections fail while the test stops nodes: those go here, not to stderr.
            "error_cb": lambda error: None,
        }
    )
    partitions = command["partitions"]
    consumer.assign(
        [TopicPartition(command["topic"], index, confluent_kafka.OFFSET_BEGINNING) for index in partitions]
    )
    records = []
    partition_errors = []
    deadline = time.monotonic() + command["timeout_ms"] / 1000
    ready = False
    try:
        while time.monotonic() < deadline:
            if {entry["partition"] for entry in partition_errors} >= set(partitions):
                break
            if not ready and all(
                sum(1 for record in records if record["partition"] == index) >= command["count"]
                for index in partitions
            ):
                with open(command["ready_file"], "w", encoding="utf-8") as ready_file:
                    ready_file.write("ready")
                ready = True
            message = consumer.poll(0.1)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                partition_errors.append(
                    {
                        "partition": message.partition(),
                        "code": error.code(),
                        "name": error.name(),
                        "reason": error.str(),
                    }
                )
                continue
            records.append(
                {"partition": message.partition(), "offset": message.offset(), "value": message.value().decode()}
            )
    finally:
        consumer.close()
    return {"records": records, "partition_errors": partition_errors}


OPERATIONS = {
    "create_topics": create_topics,
    "delete_topics": delete_topics,
    "create_partitions": create_partitions,
    "describe_configs": describe_configs,
    "list_topics": list_topics,
    "produce": produce,
    "produce_outcomes": produce_outcomes,
    "group_consume": group_consume,
    "produce_consume_for": produce_consume_for,
    "committed": committed,
    "list_groups": list_groups,
    "consume_across_leader_change": consume_across_leader_change,
    "consume_until_truncation": consume_until_truncation,
}


def main():
    command = json.loads(sys.stdin.read())
    answer = OPERATIONS[command["op"]](command)
    answer["librdkafka"] = confluent_kafka.libversion()[0]
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
