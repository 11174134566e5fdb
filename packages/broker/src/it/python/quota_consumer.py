"""kafka-python 2.0.2 (Debian python3-kafka) consuming as fast as it can under a client id, for the
client quota integration test. Run with /usr/bin/python3.

Reads one JSON command on stdin:
  {"bootstrap": ..., "topic": ..., "client_id": ..., "records": N}
reads partition 0 of the topic from the beginning (assigned, no group) until it has N records, and
prints one JSON answer: when each record arrived (seconds on a monotonic clock, with its value's
size) and the throttle times the broker reported in its Fetch responses, as kafka-python's own
fetcher metrics recorded them (fetch-throttle-time-max / -avg).
"""

import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition

REQUEST_TIMEOUT_MS = 60000
POLL_TIMEOUT_MS = 500


def main():
    command = json.load(sys.stdin)
    consumer = KafkaConsumer(
        bootstrap_servers=command["bootstrap"],
        client_id=command["client_id"],
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS + 5000,
        fetch_max_wait_ms=100,
    )
    try:
        partition = TopicPartition(command["topic"], 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        received = []
        deadline = time.monotonic() + REQUEST_TIMEOUT_MS / 1000
        while len(received) < command["records"] and time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
            for records in batches.values():
                now = time.monotonic()
                for record in records:
                    received.append([now, len(record.value)])
        metrics = consumer.metrics()["consumer-fetch-manager-metrics"]
        print(
            json.dumps(
                {
                    "received": received,
                    "throttle_time_max": metrics["fetch-throttle-time-max"],
                    "throttle_time_avg": metrics["fetch-throttle-time-avg"],
                }
            )
        )
    finally:
        consumer.close()


main()
