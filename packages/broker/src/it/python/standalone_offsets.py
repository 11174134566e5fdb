"""kafka-python 2.0.2 (Debian python3-kafka) as a consumer that manages its own partitions and as an
admin, for the offset retention integration test. Run with /usr/bin/python3. One JSON command on
stdin, one JSON line on stdout:
  {"op": "commit", "bootstrap", "group", "topic", "partition", "offset"}
      assign() the partition (no subscribe, so no group membership) and commit the offset
      synchronously: OffsetCommit with generation -1 and no member id. Answer: {}
  {"op": "offsets", "bootstrap", "group"}
      KafkaAdminClient.list_consumer_group_offsets (OffsetFetch for every committed partition).
      Answer: {"offsets": {"topic:partition": offset}}
"""

import json
import sys

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

REQUEST_TIMEOUT_MS = 15000


def commit(command):
    consumer = KafkaConsumer(
        bootstrap_servers=command["bootstrap"],
        group_id=command["group"],
        client_id="kafka-python-standalone",
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        partition = TopicPartition(command["topic"], command["partition"])
        consumer.assign([partition])
        consumer.commit({partition: OffsetAndMetadata(command["offset"], "")})
    finally:
        consumer.close(autocommit=False)
    return {}


def offsets(command):
    admin = KafkaAdminClient(
        bootstrap_servers=command["bootstrap"],
        client_id="kafka-python-admin",
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        listed = admin.list_consumer_group_offsets(command["group"])
    finally:
        admin.close()
    return {
        "offsets": {
            f"{tp.topic}:{tp.partition}": meta.offset for tp, meta in listed.items() if meta.offset >= 0
        }
    }


def main():
    command = json.load(sys.stdin)
    op = command["op"]
    if op == "commit":
        answer = commit(command)
    elif op == "offsets":
        answer = offsets(command)
    else:
        raise ValueError(f"unknown op {op}")
    json.dump(answer, sys.stdout)


main()
