"""A KIP-848 consumer (group.protocol=consumer) on confluent-kafka-python over the current librdkafka,
driven by kip848-consumer-groups.integration.test.ts.

Run with /usr/bin/python3 and LD_LIBRARY_PATH at librdkafka 2.15. Reads one JSON command on stdin:
  {"bootstrap", "topic", "group", "client_id", "status_file", "stop_file", "timeout_s"}
Consumes until stop_file exists (or timeout_s passes), committing synchronously after every poll that
returned a record, so what was consumed is what is committed. After every assignment change, every
20 records and every poll that returned nothing after records it has not reported yet (so the count
read is exact once consumption stops, whatever partitions moved) it rewrites status_file (atomically)
with
  {"librdkafka", "assignment": [partitions], "consumed": count}
and at the end prints one JSON line:
  {"librdkafka", "records": [{"partition", "offset", "value"}], "assignments": [[partitions]...],
   "errors": [...]}
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, libversion

POLL_TIMEOUT_S = 0.2


def main():
    command = json.loads(sys.stdin.read())
    consumer = Consumer(
        {
            "bootstrap.servers": command["bootstrap"],
            "client.id": command.get("client_id", "gregor-kip848"),
            "group.id": command["group"],
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    assignment = set()
    assignments = []
    records = []
    errors = []
    reported = [0]

    def write_status():
        reported[0] = len(records)
        temporary = command["status_file"] + ".tmp"
        with open(temporary, "w") as status:
            json.dump(
                {"librdkafka": libversion()[0], "assignment": sorted(assignment), "consumed": len(records)},
                status,
            )
        os.replace(temporary, command["status_file"])

    def on_assign(_consumer, partitions):
        assignment.update(tp.partition for tp in partitions)
        assignments.append(sorted(assignment))
        write_status()

    def on_revoke(_consumer, partitions):
        assignment.difference_update(tp.partition for tp in partitions)
        assignments.append(sorted(assignment))
        write_status()

    consumer.subscribe([command["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    write_status()
    deadline = time.monotonic() + command.get("timeout_s", 60)
    while time.monotonic() < deadline and not os.path.exists(command["stop_file"]):
        message = consumer.poll(POLL_TIMEOUT_S)
        if message is None:
            if reported[0] != len(records):
                write_status()
            continue
        if message.error() is not None:
            errors.append(message.error().name())
            continue
        records.append(
            {"partition": message.partition(), "offset": message.offset(), "value": message.value().decode()}
        )
        try:
            consumer.commit(message=message, asynchronous=False)
        except KafkaException as error:
            errors.append(error.args[0].name())
        if len(records) % 20 == 0:
            write_status()
    write_status()
    consumer.close()
    print(json.dumps({"librdkafka": libversion()[0], "records": records, "assignments": assignments, "errors": errors}))


main()
