"""kafka-python 2.0.2 (Debian python3-kafka) driven by the integration tests.

Run with /usr/bin/python3. Reads one JSON command on stdin, prints one JSON answer on stdout.
Bytes travel as base64 so keys, values and header values can hold anything; None stays null.

Commands:
  {"op": "create_topics", "bootstrap": ..., "topics": [{"name", "partitions", "replication"}]}
      -> {"topics": [{"name", "error"}]}, or {"error": code} when kafka-python raised a topic error
  {"op": "delete_topics", "bootstrap": ..., "topics": [names]}
  {"op": "list_topics", "bootstrap": ...}
  {"op": "produce", "bootstrap": ..., "topic": ..., "compression": null|"gzip"|..., "acks": 1|-1|"all",
   "batch_per_record": false, "linger_ms": 0,
   "records": [{"partition", "key", "value", "headers": [[name, b64 or null]], "timestamp_ms"}]}
  {"op": "consume", "bootstrap": ..., "topic": ..., "partitions": [..], "offset": N|"beginning",
   "count": N, "timeout_ms": N}   (manual assignment, no group)
"""

import base64
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

REQUEST_TIMEOUT_MS = 15000


def b64(data):
    return None if data is None else base64.b64encode(data).decode("ascii")


def unb64(text):
    return None if text is None else base64.b64decode(text)


def admin(command):
    return KafkaAdminClient(
        bootstrap_servers=command["bootstrap"],
        client_id="gregor-it-admin",
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )


def create_topics(command):
    client = admin(command)
    try:
        topics = [NewTopic(t["name"], t["partitions"], t["replication"]) for t in command["topics"]]
        try:
            response = client.create_topics(topics, timeout_ms=REQUEST_TIMEOUT_MS)
        except KafkaError as error:
            # kafka-python raises the first topic error instead of returning it.
            return {"error": error.errno}
        return {"topics": [{"name": name, "error": code} for name, code, *_ in response.topic_errors]}
    finally:
        client.close()


def delete_topics(command):
    client = admin(command)
    try:
        response = client.delete_topics(command["topics"], timeout_ms=REQUEST_TIMEOUT_MS)
        return {"topics": [{"name": name, "error": code} for name, code in response.topic_error_codes]}
    finally:
        client.close()


def list_topics(command):
    consumer = KafkaConsumer(bootstrap_servers=command["bootstrap"], request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        return {"topics": sorted(consumer.topics())}
    finally:
        consumer.close()


def produce(command):
    producer = KafkaProducer(
        bootstrap_servers=command["bootstrap"],
        client_id="gregor-it-producer",
        compression_type=command.get("compression"),
        acks=command.get("acks", "all"),
        linger_ms=command.get("linger_ms", 0),
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        # kafka-python 2.0.2 defaults to no retries; a broker that has not applied a new topic's
        # metadata yet answers UNKNOWN_TOPIC_OR_PARTITION (retriable), as Kafka does.
        retries=5,
        # Retries must not reorder records.
        max_in_flight_requests_per_connection=1,
    )
    try:
        futures = []
        for record in command["records"]:
            headers = [(name, unb64(value)) for name, value in record.get("headers", [])]
            futures.append(
                producer.send(
                    command["topic"],
                    key=unb64(record.get("key")),
                    value=unb64(record.get("value")),
                    headers=headers,
                    partition=record.get("partition"),
                    timestamp_ms=record.get("timestamp_ms"),
                )
            )
            if command.get("batch_per_record", False):
                producer.flush()
        producer.flush()
        sent = []
        for future in futures:
            metadata = future.get(timeout=REQUEST_TIMEOUT_MS / 1000)
            sent.append({"partition": metadata.partition, "offset": metadata.offset, "timestamp": metadata.timestamp})
        return {"sent": sent}
    finally:
        producer.close()


def consume(command):
    consumer = KafkaConsumer(
        bootstrap_servers=command["bootstrap"],
        client_id="gregor-it-consumer",
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        partitions = [TopicPartition(command["topic"], p) for p in command["partitions"]]
        consumer.assign(partitions)
        offset = command.get("offset", "beginning")
        for partition in partitions:
            if offset == "beginning":
                consumer.seek_to_beginning(partition)
            else:
                consumer.seek(partition, offset)
        records = []
        deadline = time.monotonic() + command.get("timeout_ms", 15000) / 1000
        while len(records) < command["count"] and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                for record in batch:
                    records.append(
                        {
                            "partition": record.partition,
                            "offset": record.offset,
                            "timestamp": record.timestamp,
                            "timestamp_type": record.timestamp_type,
                            "key": b64(record.key),
                            "value": b64(record.value),
                            "headers": [[name, b64(value)] for name, value in record.headers],
                        }
                    )
        records.sort(key=lambda r: (r["partition"], r["offset"]))
        return {"records": records}
    finally:
        consumer.close()


OPERATIONS = {
    "create_topics": create_topics,
    "delete_topics": delete_topics,
    "list_topics": list_topics,
    "produce": produce,
    "consume": consume,
}


def main():
    command = json.load(sys.stdin)
    json.dump(OPERATIONS[command["op"]](command), sys.stdout)


if __name__ == "__main__":
    main()
