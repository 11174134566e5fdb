"""librdkafka's mock cluster as a Kafka server for the client's tests.

Starts librdkafka's mock cluster (rd_kafka_mock_cluster_new, what `test.mock.num.brokers` starts)
of N brokers through ctypes, so the test can call the mock's own API; prints
{"bootstrap": "host:port,...", "librdkafka": "x.y.z"} once it is up, and serves until stdin closes
(the test ends) or the process is killed. The mock cluster is librdkafka's own implementation of the
broker side of the protocol: a server written independently of Gregor. LD_LIBRARY_PATH picks which
librdkafka.so.1 is loaded.

Usage: librdkafka_mock_cluster.py BROKERS [API_KEY:MIN:MAX ...]
Each API_KEY:MIN:MAX sets the versions the mock advertises for that API in ApiVersions
(rd_kafka_mock_set_apiversion): the test uses it to advertise only the versions whose layout the
mock's handlers really parse (see mock-cluster.processes.integration.test.ts).
"""
import ctypes
import json
import sys

lib = ctypes.CDLL('librdkafka.so.1')
lib.rd_kafka_version_str.restype = ctypes.c_char_p
lib.rd_kafka_conf_new.restype = ctypes.c_void_p
lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                  ctypes.c_char_p, ctypes.c_size_t]
lib.rd_kafka_new.restype = ctypes.c_void_p
lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
lib.rd_kafka_mock_set_apiversion.restype = ctypes.c_int
lib.rd_kafka_mock_set_apiversion.argtypes = [ctypes.c_void_p, ctypes.c_int16, ctypes.c_int16,
                                             ctypes.c_int16]

RD_KAFKA_PRODUCER = 0
RD_KAFKA_CONF_OK = 0

brokers = int(sys.argv[1]) if len(sys.argv) > 1 else 3
error = ctypes.create_string_buffer(512)
conf = lib.rd_kafka_conf_new()
# The mock's handle needs no broker of its own: keep its "no bootstrap.servers" notice quiet.
if lib.rd_kafka_conf_set(conf, b'log_level', b'3', error, len(error)) != RD_KAFKA_CONF_OK:
    sys.exit(error.value.decode())
handle = lib.rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, len(error))
if not handle:
    sys.exit(error.value.decode())
cluster = lib.rd_kafka_mock_cluster_new(handle, brokers)
if not cluster:
    sys.exit('the mock cluster did not start')
for versions in sys.argv[2:]:
    api_key, version_min, version_max = (int(part) for part in versions.split(':'))
    if lib.rd_kafka_mock_set_apiversion(cluster, api_key, version_min, version_max) != 0:
        sys.exit(f'the mock refused versions {versions}')
print(json.dumps({
    'bootstrap': lib.rd_kafka_mock_cluster_bootstraps(cluster).decode(),
    'librdkafka': lib.rd_kafka_version_str().decode(),
}))
sys.stdout.flush()
sys.stdin.read()
