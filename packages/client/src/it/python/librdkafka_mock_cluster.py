"""librdkafka's mock cluster (test.mock.num.brokers) as a Kafka server for the client's tests.

Creates a producer whose librdkafka starts a mock cluster of N brokers inside this process, prints
{"bootstrap": "host:port,..."} once the cluster is up, and serves until stdin closes (the test
ends) or the process is killed. The mock cluster is librdkafka's own implementation of the broker
side of the protocol: a server written independently of Gregor.
"""
import json
import logging
import re
import sys

from confluent_kafka import Producer, libversion

brokers = int(sys.argv[1]) if len(sys.argv) > 1 else 3
found = []


class BootstrapFinder(logging.Handler):
    def emit(self, record):
        match = re.search(r'bootstrap[^=]*=\s*(\S+)', record.getMessage())
        if match:
            found.append(match.group(1))


logger = logging.getLogger('librdkafka-mock')
logger.setLevel(logging.DEBUG)
logger.addHandler(BootstrapFinder())
producer = Producer({'test.mock.num.brokers': brokers, 'debug': 'mock', 'logger': logger})
for _ in range(100):
    producer.poll(0.1)
    if found:
        break
if not found:
    sys.exit('the mock cluster did not say its bootstrap servers')
print(json.dumps({'bootstrap': found[0], 'librdkafka': libversion()[0]}))
sys.stdout.flush()
sys.stdin.read()
