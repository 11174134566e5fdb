"""One librdkafka client of `npm run bench:quotas` (confluent-kafka-python, Debian's
python3-confluent-kafka, run by /usr/bin/python3 on the librdkafka LD_LIBRARY_PATH names):
producing or consuming as fast as it can for a number of seconds under a client id. Prints one
JSON line: the value bytes acknowledged (producer) or received (consumer) in each second, the
requests it sent (librdkafka's "tx" of every broker: all requests, not only Produce or Fetch), and
the throttle_time_ms librdkafka saw, from its statistics (each broker's "throttle" window, which
librdkafka adds only nonzero throttle times to: max and cnt over every statistics interval).
librdkafka honours throttle_time_ms itself (KIP-219).

Usage: /usr/bin/python3 scripts/lib/quota_client.py '<json>'
  {"role": "produce"|"consume", "bootstrap", "topic", "clientId", "seconds", "valueBytes",
   "lingerMs", "recordsPerBatch" (produce: librdkafka's linger.ms and batch.num.messages)}
"""

import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, Producer

command = json.loads(sys.argv[1])
seconds = command["seconds"]
buckets = [0] * seconds
state = {"started": 0.0, "total": 0, "last": 0.0, "tx": 0}
throttle = {"count": 0, "maxMs": 0}


def count(nbytes):
    second = int(time.monotonic() - state["started"])
    if second < seconds:
        buckets[second] += nbytes
        state["total"] += nbytes
        state["last"] = time.monotonic() - state["started"]


def on_stats(text):
    stats = json.loads(text)
    # Requests sent to the brokers so far (cumulative: the last report's sum is the total).
    state["tx"] = sum(broker.get("tx", 0) for broker in stats.get("brokers", {}).values())
    for broker in stats.get("brokers", {}).values():
        window = broker.get("throttle", {})
        if window.get("max", 0) > 0:
            throttle["maxMs"] = max(throttle["maxMs"], window["max"])
            throttle["count"] += window.get("cnt", 0)


def common():
    return {
        "bootstrap.servers": command["bootstrap"],
        "client.id": command["clientId"],
        "statistics.interval.ms": 500,
        "stats_cb": on_stats,
    }


def produce():
    value = b"q" * command["valueBytes"]
    producer = Producer(
        {
            **common(),
            "acks": 1,
            "linger.ms": command.get("lingerMs", 5),
            "batch.num.messages": command.get("recordsPerBatch", 10000),
            "enable.idempotence": False,
        }
    )

    def delivered(error, message):
        if error is None:
            count(len(message.value()))

    state["started"] = time.monotonic()
    deadline = state["started"] + seconds
    while time.monotonic() < deadline:
        try:
            producer.produce(command["topic"], value=value, on_delivery=delivered)
        except BufferError:
            producer.poll(0.01)
            continue
        producer.poll(0)
    elapsed = time.monotonic() - state["started"]
    # What is still queued is not counted; it is purged rather than waited for.
    producer.purge()
    producer.flush(5)
    producer.poll(0.6)  # one more statistics interval
    return elapsed


def consume():
    consumer = Consumer(
        {
            **common(),
            "group.id": "%s-%d" % (command["clientId"], int(time.time() * 1000)),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([command["topic"]])
    deadline = None
    while deadline is None or time.monotonic() < deadline:
        messages = consumer.consume(num_messages=1000, timeout=0.2)
        nbytes = 0
        for message in messages:
            if message.error() is None and message.value() is not None:
                nbytes += len(message.value())
        if nbytes > 0 and deadline is None:
            # Timed from the first records: joining the group is not the quota's business.
            state["started"] = time.monotonic()
            deadline = state["started"] + seconds
        if nbytes > 0:
            count(nbytes)
    elapsed = time.monotonic() - state["started"]
    consumer.poll(0.6)  # one more statistics interval
    consumer.close()
    return elapsed


elapsed = produce() if command["role"] == "produce" else consume()
print(
    json.dumps(
        {
            "buckets": buckets,
            "totalBytes": state["total"],
            "elapsedMs": elapsed * 1000,
            "lastMs": state["last"] * 1000,
            "requests": state["tx"],
            "throttle": throttle,
            "version": "librdkafka " + confluent_kafka.libversion()[0],
        }
    )
)
