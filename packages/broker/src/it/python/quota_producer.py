"""kafka-python 2.0.2 (Debian python3-kafka) producing as fast as it can under a client id, for the
client quota integration test. Run with /usr/bin/python3.

Reads one JSON command on stdin:
  {"bootstrap": ..., "topic": ..., "client_id": ..., "records": N, "record_bytes": N}
and prints one JSON answer: when each record was acknowledged (seconds on a monotonic clock, with its
value's size) and the throttle times the broker reported in its Produce responses, as kafka-python's
own producer metrics recorded them (produce-throttle-time-max / -avg).
"""

import json
import sys
import time

from kafka import KafkaProducer

REQUEST_TIMEOUT_MS = 60000


def main():
    command = json.load(sys.stdin)
    producer = KafkaProducer(
        bootstrap_servers=command["bootstrap"],
        client_id=command["client_id"],
        acks=1,
        linger_ms=0,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        max_block_ms=REQUEST_TIMEOUT_MS,
        retries=5,
        # One request at a time: what the broker accepts per window is then what the client sent.
        max_in_flight_requests_per_connection=1,
    )
    acked = []
    value = b"q" * command["record_bytes"]
    try:
        futures = []
        for _ in range(command["records"]):
            future = producer.send(command["topic"], value=value)
            future.add_callback(lambda _metadata: acked.append([time.monotonic(), len(value)]))
            futures.append(future)
        producer.flush()
        for future in futures:
            future.get(timeout=REQUEST_TIMEOUT_MS / 1000)
        metrics = producer.metrics()["producer-metrics"]
        print(
            json.dumps(
                {
                    "acked": acked,
                    "throttle_time_max": metrics["produce-throttle-time-max"],
                    "throttle_time_avg": metrics["produce-throttle-time-avg"],
                }
            )
        )
    finally:
        producer.close()


main()
