"""A kafka-python 2.0.2 group member (Debian python3-kafka) driven by the group integration tests.

Run with /usr/bin/python3. Reads one JSON command on stdin, prints one JSON line on stdout when done:
  {"bootstrap", "topic", "group", "client_id",
   "count": N          -> stop once N records were consumed (or "stop_file" appears), else
   "stop_file": path   -> consume until that file exists,
   "timeout_s": N}     (a bound: exits with what it has)
Offsets are committed synchronously after each poll that returned records and on close, so what
was consumed is what is committed. The assignor is the round-robin one, protocol name "roundrobin",
which librdkafka and a renamed kafkajs assigner share.
Answer: {"values": [...], "assignment": [partitions of the last assignment]}
"""

import json
import os
import sys
import time

from kafka import KafkaConsumer
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

POLL_TIMEOUT_MS = 200


def main():
    command = json.loads(sys.stdin.read())
    consumer = KafkaConsumer(
        command["topic"],
        bootstrap_servers=command["bootstrap"],
        group_id=command["group"],
        client_id=command.get("client_id", "kafka-python"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        partition_assignment_strategy=[RoundRobinPartitionAssignor],
        session_timeout_ms=10000,
        heartbeat_interval_ms=500,
        request_timeout_ms=15000,
    )
    values = []
    deadline = time.time() + command.get("timeout_s", 60)
    count = command.get("count")
    stop_file = command.get("stop_file")
    while time.time() < deadline:
        if count is not None and len(values) >= count:
            break
        if stop_file is not None and os.path.exists(stop_file):
            break
        polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
        for records in polled.values():
            for record in records:
                values.append(record.value.decode("utf-8"))
        if polled:
            consumer.commit()
    assignment = sorted(tp.partition for tp in consumer.assignment())
    consumer.commit()
    consumer.close()
    print(json.dumps({"values": values, "assignment": assignment}))


main()
