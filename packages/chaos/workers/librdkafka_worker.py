#!/usr/bin/python3
# One librdkafka client of the Gregor chaos suite (confluent-kafka-python), in one role, writing
# its history as JSON lines on stdout (see packages/chaos/src/history.ts for the events). SIGTERM
# ends it cleanly: a producer flushes, a group member closes (and so leaves its group).
#
#   librdkafka_worker.py produce --bootstrap B --topic T --partitions N --name NAME --rate R [--acks 1]
#   librdkafka_worker.py group   --bootstrap B --topic T --name NAME --group G
#   librdkafka_worker.py reader  --bootstrap B --topic T --partitions N --name NAME [--reread-s S]
#   librdkafka_worker.py final   --bootstrap B --topic T --partitions N --name NAME [--timeout-s S]
import argparse
import json
import logging
import re
import signal
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

stopping = False


def on_term(signum, frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

NAME = 'librdkafka'
# A read or poll event carries at most this many records (a long read is several events).
RECORDS_PER_EVENT_MAX = 2000


def emit(event):
    event['process'] = NAME
    event['wallMs'] = time.time() * 1000
    event['monoMs'] = time.monotonic_ns() / 1e6
    sys.stdout.write(json.dumps(event, separators=(',', ':')) + '\n')


# librdkafka's idempotence log lines that start a new producer epoch (or id): after one, what was not
# yet acknowledged is sent again with new sequence numbers (see NoteEvent.epochBump in history.ts).
EPOCH_BUMP = re.compile(r'state change \w+ -> Drain(Bump|Reset)')


class LibrdkafkaLog(logging.Handler):
    """Every librdkafka log line to stderr (the worker's log file); epoch bumps also to the history."""

    def emit(self, record):
        text = record.getMessage()
        sys.stderr.write('%.3f %s\n' % (time.time(), text))
        if EPOCH_BUMP.search(text):
            emit({'f': 'note', 'type': 'info', 'epochBump': True, 'text': 'librdkafka: ' + text[:300]})


def librdkafka_logger():
    logger = logging.getLogger('librdkafka')
    logger.setLevel(logging.DEBUG)
    logger.addHandler(LibrdkafkaLog())
    return logger


def common(args):
    return {
        'bootstrap.servers': args.bootstrap,
        'client.id': args.name,
        # Fault windows last seconds: a client that waited Kafka's default 30 s per request would
        # measure its own timeout, not the cluster.
        'socket.timeout.ms': 10000,
        'topic.metadata.refresh.interval.ms': 5000,
    }


def produce(args):
    idempotent = args.acks == 'all'
    config = dict(common(args))
    config.update({
        'acks': args.acks,
        'enable.idempotence': idempotent,
        'linger.ms': 5,
        'message.timeout.ms': 60000,
        'request.timeout.ms': 10000,
        'retry.backoff.ms': 50,
        # The idempotence machinery's own account (epoch bumps and why, retries, sequence errors)
        # goes to this worker's stderr log: what a duplicate or a gap needs explaining.
        'debug': 'eos',
    })
    if not idempotent:
        config['max.in.flight.requests.per.connection'] = 5
    producer = Producer(config, logger=librdkafka_logger())
    acks = args.acks
    seq = 0
    interval = 1.0 / args.rate
    next_at = time.monotonic()

    def delivered(value, partition):
        def callback(err, msg):
            if err is None:
                event = {'f': 'send', 'type': 'ok', 'partition': partition, 'value': value, 'acks': acks,
                         'idempotent': idempotent}
                # An idempotent producer may learn that a request it had no answer to was written from
                # the answer to a later one: acknowledged, but without offsets.
                offset = msg.offset()
                if offset is not None and offset >= 0:
                    event['offset'] = offset
                emit(event)
            else:
                emit({'f': 'send', 'type': 'fail', 'partition': partition, 'value': value, 'acks': acks,
                      'idempotent': idempotent, 'error': str(err)})
        return callback

    while not stopping:
        now = time.monotonic()
        while next_at <= now and not stopping:
            partition = seq % args.partitions
            value = '%s#%d' % (args.name, seq)
            seq += 1
            emit({'f': 'send', 'type': 'invoke', 'partition': partition, 'value': value, 'acks': acks,
                  'idempotent': idempotent})
            while True:
                try:
                    producer.produce(args.topic, value=value.encode(), partition=partition,
                                     on_delivery=delivered(value, partition))
                    break
                except BufferError:
                    producer.poll(0.05)
            next_at += interval
        producer.poll(min(0.05, max(0.0, next_at - time.monotonic())))
        sys.stdout.flush()
    remaining = producer.flush(15)
    if remaining:
        emit({'f': 'note', 'type': 'info', 'text': '%d sends still unanswered at exit' % remaining})
    sys.stdout.flush()


def records_of(messages):
    records = []
    for message in messages:
        if message.error() is None:
            records.append([message.partition(), message.offset(), message.value().decode()])
    return records


def group(args):
    config = dict(common(args))
    config.update({
        'group.id': args.group,
        'enable.auto.commit': False,
        'auto.offset.reset': 'earliest',
        'session.timeout.ms': 6000,
        'heartbeat.interval.ms': 1000,
    })
    consumer = Consumer(config)

    def on_assign(c, partitions):
        emit({'f': 'assign', 'type': 'ok', 'group': args.group, 'partitions': sorted(p.partition for p in partitions)})

    def on_revoke(c, partitions):
        emit({'f': 'assign', 'type': 'info', 'group': args.group, 'partitions': []})

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stopping:
        messages = consumer.consume(num_messages=500, timeout=0.5)
        records = records_of(messages)
        if records:
            emit({'f': 'poll', 'type': 'ok', 'group': args.group, 'records': records})
            offsets = {}
            for partition, offset, _ in records:
                offsets[str(partition)] = offset + 1
            emit({'f': 'commit', 'type': 'invoke', 'group': args.group, 'offsets': offsets})
            try:
                consumer.commit(offsets=[TopicPartition(args.topic, int(p), o) for p, o in offsets.items()],
                                asynchronous=False)
                emit({'f': 'commit', 'type': 'ok', 'group': args.group, 'offsets': offsets})
            except KafkaException as error:
                emit({'f': 'commit', 'type': 'fail', 'group': args.group, 'offsets': offsets, 'error': str(error)})
        sys.stdout.flush()
    consumer.close()
    emit({'f': 'note', 'type': 'info', 'text': 'left the group'})
    sys.stdout.flush()


def reader(args):
    config = dict(common(args))
    config.update({'group.id': args.name + '-unused', 'enable.auto.commit': False})
    consumer = Consumer(config)
    partitions = [TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(args.partitions)]
    consumer.assign(partitions)
    for p in range(args.partitions):
        emit({'f': 'seek', 'type': 'ok', 'partition': p, 'offset': 0})
    reread_at = time.monotonic() + args.reread_s
    while not stopping:
        messages = consumer.consume(num_messages=1000, timeout=0.5)
        records = records_of(messages)
        for start in range(0, len(records), RECORDS_PER_EVENT_MAX):
            emit({'f': 'poll', 'type': 'ok', 'records': records[start:start + RECORDS_PER_EVENT_MAX]})
        if time.monotonic() >= reread_at:
            # Read everything again from the start: the same offsets must hold the same values.
            for p in range(args.partitions):
                emit({'f': 'seek', 'type': 'ok', 'partition': p, 'offset': 0})
                consumer.seek(TopicPartition(args.topic, p, OFFSET_BEGINNING))
            reread_at = time.monotonic() + args.reread_s
        sys.stdout.flush()
    consumer.close()
    sys.stdout.flush()


def final(args):
    config = dict(common(args))
    config.update({'group.id': args.name + '-unused', 'enable.auto.commit': False,
                   'enable.partition.eof': True})
    consumer = Consumer(config)
    for p in range(args.partitions):
        deadline = time.monotonic() + args.timeout_s
        tp = TopicPartition(args.topic, p)
        high = None
        while high is None and time.monotonic() < deadline:
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=5)
            except KafkaException:
                time.sleep(0.5)
        if high is None:
            emit({'f': 'final-read', 'type': 'fail', 'partition': p, 'error': 'no high watermark'})
            continue
        consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING)])
        records = []
        next_offset = 0
        while next_offset < high and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=1):
                if message.error() is not None:
                    continue
                records.append([p, message.offset(), message.value().decode()])
                next_offset = message.offset() + 1
            if len(records) >= RECORDS_PER_EVENT_MAX:
                emit({'f': 'final-read', 'type': 'ok', 'partition': p, 'records': records})
                records = []
        if next_offset < high:
            emit({'f': 'final-read', 'type': 'ok', 'partition': p, 'records': records})
            emit({'f': 'final-read', 'type': 'fail', 'partition': p,
                  'error': 'read to offset %d of high watermark %d before the deadline' % (next_offset, high)})
        else:
            emit({'f': 'final-read', 'type': 'ok', 'partition': p, 'records': records, 'highWatermark': high})
        sys.stdout.flush()
    consumer.close()
    sys.stdout.flush()


def main():
    global NAME
    parser = argparse.ArgumentParser()
    parser.add_argument('role', choices=['produce', 'group', 'reader', 'final'])
    parser.add_argument('--bootstrap', required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--name', required=True)
    parser.add_argument('--partitions', type=int, default=1)
    parser.add_argument('--rate', type=float, default=100)
    parser.add_argument('--acks', default='all', choices=['all', '1'])
    parser.add_argument('--group', default='chaos')
    parser.add_argument('--reread-s', type=float, default=60)
    parser.add_argument('--timeout-s', type=float, default=120)
    args = parser.parse_args()
    NAME = args.name
    {'produce': produce, 'group': group, 'reader': reader, 'final': final}[args.role](args)


if __name__ == '__main__':
    main()
