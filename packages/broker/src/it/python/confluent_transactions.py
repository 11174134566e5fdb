"""confluent-kafka-python's transactional producer, driven by the transaction integration tests.

Run with /usr/bin/python3 and LD_LIBRARY_PATH pointing at the librdkafka to test. Reads one JSON
command on stdin, prints one JSON answer on stdout (with "librdkafka", the version the library
reports). Keys and values travel as UTF-8 text.

Commands (all with "bootstrap"):
  {"op": "transaction", "transactional_id", "topic", "records": [{"partition", "value"}],
   "outcome": "commit"|"abort"|"hang", "timeout_ms"?}
      one transaction; "hang" flushes the records and exits without ending it
      -> {"outcome", "producer_error": error name or null}
  {"op": "read", "topic", "partitions": [..], "isolation": "read_committed"|"read_uncommitted"}
      reads every partition from the start to its end (partition EOF)
      -> {"records": [{"partition", "offset", "value"}], "ends": {partition: offset}}
  {"op": "zombie", "transactional_id", "topic"}
      producer A starts a transaction; producer B (same id) initialises; A tries to go on
      -> {"zombie_error": error name, "zombie_fatal": bool, "successor": "committed"}
  {"op": "consume_transform_produce", "group", "input", "output", "count", "transactional_id"}
      reads `count` records of `input` in a group (read_committed), writes each value upper-cased to
      `output` and commits the consumed offsets with send_offsets_to_transaction, in one transaction
      -> {"consumed": n, "committed": {partition: offset}}
  {"op": "watermarks", "topic", "partitions": [..]}
      each partition's low and high offsets from ListOffsets (get_watermark_offsets, not cached)
      asked by a read_committed and by a read_uncommitted consumer: librdkafka sends its consumer's
      isolation.level in ListOffsets, so read_committed's high offset is the last stable offset
      -> {"read_committed": {partition: [low, high]}, "read_uncommitted": {partition: [low, high]}}
  {"op": "describe_topic", "topic"}
      the topic's partitions (Metadata) and configs (DescribeConfigs) through the AdminClient
      -> {"partitions": {partition: {"replicas": [..]}}, "configs": {name: value}}
"""

import json
import os
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

TIMEOUT_S = 30


def producer(command, transactional_id, extra=None):
    config = {
        "bootstrap.servers": command["bootstrap"],
        "client.id": "gregor-it-txn",
        "transactional.id": transactional_id,
    }
    config.update(extra or {})
    return Producer(config)


def transaction(command):
    extra = {}
    if "timeout_ms" in command:
        extra["transaction.timeout.ms"] = command["timeout_ms"]
    p = producer(command, command["transactional_id"], extra)
    p.init_transactions(TIMEOUT_S)
    p.begin_transaction()
    for record in command["records"]:
        p.produce(command["topic"], value=record["value"].encode(), partition=record["partition"])
    outcome = command["outcome"]
    # Delivered first: an abort would otherwise drop records still queued in the client, and the
    # tests want the broker to hold them.
    if p.flush(TIMEOUT_S) != 0:
        raise RuntimeError("records not delivered")
    if outcome == "hang":
        print(json.dumps({"outcome": "hang", "producer_error": None,
                          "librdkafka": confluent_kafka.libversion()[0]}))
        sys.stdout.flush()
        os._exit(0)  # no abort, no close: the coordinator must end it
    if outcome == "commit":
        p.commit_transaction(TIMEOUT_S)
    else:
        p.abort_transaction(TIMEOUT_S)
    return {"outcome": outcome, "producer_error": None}


def read(command):
    consumer = Consumer({
        "bootstrap.servers": command["bootstrap"],
        "group.id": "gregor-it-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": command["isolation"],
        "auto.offset.reset": "earliest",
    })
    partitions = command["partitions"]
    consumer.assign([TopicPartition(command["topic"], p, 0) for p in partitions])
    records = []
    ends = {}
    deadline = time.time() + TIMEOUT_S
    while len(ends) < len(partitions) and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                ends[str(message.partition())] = message.offset()
                continue
            raise KafkaException(message.error())
        records.append({"partition": message.partition(), "offset": message.offset(),
                        "value": message.value().decode()})
    consumer.close()
    return {"records": records, "ends": ends}


def zombie(command):
    topic = command["topic"]
    a = producer(command, command["transactional_id"])
    a.init_transactions(TIMEOUT_S)
    a.begin_transaction()
    a.produce(topic, value=b"zombie-1", partition=0)
    a.flush(TIMEOUT_S)
    b = producer(command, command["transactional_id"])
    b.init_transactions(TIMEOUT_S)  # fences A and aborts its transaction
    zombie_error = None
    zombie_fatal = False
    try:
        a.produce(topic, value=b"zombie-2", partition=0)
        a.flush(TIMEOUT_S)
        a.commit_transaction(TIMEOUT_S)
    except KafkaException as error:
        zombie_error = error.args[0].name()
        zombie_fatal = error.args[0].fatal()
    b.begin_transaction()
    b.produce(topic, value=b"successor", partition=0)
    b.commit_transaction(TIMEOUT_S)
    return {"zombie_error": zombie_error, "zombie_fatal": zombie_fatal, "successor": "committed"}


def consume_transform_produce(command):
    consumer = Consumer({
        "bootstrap.servers": command["bootstrap"],
        "group.id": command["group"],
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    })
    consumer.subscribe([command["input"]])
    p = producer(command, command["transactional_id"])
    p.init_transactions(TIMEOUT_S)
    p.begin_transaction()
    consumed = 0
    deadline = time.time() + TIMEOUT_S
    while consumed < command["count"] and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is None or message.error():
            continue
        p.produce(command["output"], value=message.value().decode().upper().encode(),
                  partition=message.partition())
        consumed += 1
    positions = consumer.position(consumer.assignment())
    p.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), TIMEOUT_S)
    p.commit_transaction(TIMEOUT_S)
    committed = consumer.committed(consumer.assignment(), TIMEOUT_S)
    consumer.close()
    return {"consumed": consumed,
            "committed": {str(tp.partition): tp.offset for tp in committed}}


def watermarks(command):
    answer = {}
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = Consumer({
            "bootstrap.servers": command["bootstrap"],
            "group.id": "gregor-it-watermarks",
            "isolation.level": isolation,
        })
        answer[isolation] = {
            str(p): list(consumer.get_watermark_offsets(TopicPartition(command["topic"], p),
                                                        timeout=TIMEOUT_S, cached=False))
            for p in command["partitions"]
        }
        consumer.close()
    return answer


def describe_topic(command):
    admin = AdminClient({"bootstrap.servers": command["bootstrap"]})
    topic = command["topic"]
    metadata = admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
    if metadata.error is not None:
        raise KafkaException(metadata.error)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(TIMEOUT_S)
    return {
        "partitions": {str(p.id): {"replicas": p.replicas} for p in metadata.partitions.values()},
        "configs": {name: entry.value for name, entry in configs.items()},
    }


OPS = {
    "transaction": transaction,
    "read": read,
    "zombie": zombie,
    "consume_transform_produce": consume_transform_produce,
    "watermarks": watermarks,
    "describe_topic": describe_topic,
}


def main():
    command = json.load(sys.stdin)
    answer = OPS[command["op"]](command)
    answer["librdkafka"] = confluent_kafka.libversion()[0]
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
