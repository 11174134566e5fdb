#!/usr/bin/python3
# One librdkafka client of the Gregor chaos suite (confluent-kafka-python), in one role, writing
# its history as JSON lines on stdout (see packages/chaos/src/history.ts for the events). SIGTERM
# ends it cleanly: a producer flushes, a group member closes (and so leaves its group).
#
#   librdkafka_worker.py produce --bootstrap B --topic T --partitions N --name NAME --rate R [--acks 1]
#   librdkafka_worker.py group   --bootstrap B --topic T --name NAME --group G
#   librdkafka_worker.py reader  --bootstrap B --topic T --partitions N --name NAME [--reread-s S]
#   librdkafka_worker.py final   --bootstrap B --topic T --partitions N --name NAME [--timeout-s S]
#   librdkafka_worker.py txn     --bootstrap B --topic T --partitions N --name NAME --rate R --seed S
#   librdkafka_worker.py ctp     --bootstrap B --topic T --partitions N --name NAME --group G --source P
#
# Every role takes --client-config FILE: librdkafka settings added to its own (security on: the
# campaign's security.protocol=SASL_SSL, sasl.* and ssl.ca.location).
#
# Every reader (group, reader, final) reads with isolation.level=read_committed (librdkafka's default,
# stated here because the checker relies on it): records of aborted transactions must never reach it.
import argparse
import json
import logging
import random
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
READ_COMMITTED = 'read_committed'
# How long the final read waits for a partition's open transactions to end (three times the
# transactional producer's transaction.timeout.ms, after which the coordinator aborts them).
STABLE_WAIT_S = 60
# How long one consume() of the final read waits for more records (it loops until the end offset).
FINAL_CONSUME_WAIT_S = 0.1


def emit(event):
    event['process'] = NAME
    event['wallMs'] = time.time() * 1000
    event['monoMs'] = time.monotonic_ns() / 1e6
    sys.stdout.write(json.dumps(event, separators=(',', ':')) + '\n')


# librdkafka's idempotence log lines that start a new producer epoch (or id): after one, what was not
# yet acknowledged is sent again with new sequence numbers (see NoteEvent.epochBump in history.ts).
EPOCH_BUMP = re.compile(r'state change \w+ -> Drain(Bump|Reset)')
# librdkafka's log line (debug context eos or msg) when a batch's success makes it take the records
# before it that it still holds (sent and failed, or never answered) as written without any answer
# saying so (rd_kafka_dr_implicit_ack); msgids count a partition's records from 1 in produce() order
# (see NoteEvent.implicitAck in history.ts).
IMPLICIT_ACK = re.compile(
    r'\[(\d+)\] (\d+) message\(s\) implicitly acked by subsequent batch success '
    r'\(msgids (\d+)\.\.(\d+), last acked (\d+)\)')


class LibrdkafkaLog(logging.Handler):
    """Every librdkafka log line to stderr (the worker's log file); epoch bumps and implicit
    acknowledgements also to the history."""

    def emit(self, record):
        text = record.getMessage()
        sys.stderr.write('%.3f %s\n' % (time.time(), text))
        if EPOCH_BUMP.search(text):
            emit({'f': 'note', 'type': 'info', 'epochBump': True, 'text': 'librdkafka: ' + text[:300]})
        implicit = IMPLICIT_ACK.search(text)
        if implicit is not None:
            emit({'f': 'note', 'type': 'info', 'text': 'librdkafka: ' + text[:300],
                  'implicitAck': {'partition': int(implicit.group(1)), 'msgidFirst': int(implicit.group(3)),
                                  'msgidLast': int(implicit.group(4))}})


def librdkafka_logger():
    logger = logging.getLogger('librdkafka')
    logger.setLevel(logging.DEBUG)
    logger.addHandler(LibrdkafkaLog())
    return logger


def read_client_config(path):
    """A client properties file (key=value lines, # comments), as kcat -F reads: the campaign's
    security settings (security.protocol, sasl.*, ssl.ca.location) when security is on."""
    config = {}
    if path is None:
        return config
    with open(path, encoding='utf-8') as lines:
        for line in lines:
            line = line.strip()
            if line == '' or line.startswith('#'):
                continue
            key, _, value = line.partition('=')
            config[key.strip()] = value.strip()
    return config


def common(args):
    config = {
        'bootstrap.servers': args.bootstrap,
        'client.id': args.name,
        # Fault windows last seconds: a client that waited Kafka's default 30 s per request would
        # measure its own timeout, not the cluster.
        'socket.timeout.ms': 10000,
        'topic.metadata.refresh.interval.ms': 5000,
    }
    config.update(args.client_config)
    return config


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
        # The idempotence machinery's own account (epoch bumps and why, retries, sequence errors,
        # implicit acknowledgements) goes to this worker's stderr log: what a duplicate or a gap
        # needs explaining. A few lines per fault: eos logs state changes, not each request.
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
        'isolation.level': READ_COMMITTED,
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
            emit({'f': 'poll', 'type': 'ok', 'group': args.group, 'isolation': READ_COMMITTED, 'records': records})
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
    config.update({'group.id': args.name + '-unused', 'enable.auto.commit': False,
                   'isolation.level': READ_COMMITTED})
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
            emit({'f': 'poll', 'type': 'ok', 'isolation': READ_COMMITTED,
                  'records': records[start:start + RECORDS_PER_EVENT_MAX]})
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
                   'enable.partition.eof': True, 'isolation.level': READ_COMMITTED})
    consumer = Consumer(config)
    # A read_committed consumer's watermark query answers the last stable offset; a read_uncommitted
    # one's the high watermark, the offset the observer watched.
    uncommitted = Consumer(dict(config, **{'isolation.level': 'read_uncommitted'}))

    def watermark(client, tp):
        try:
            return client.get_watermark_offsets(tp, timeout=5)[1]
        except KafkaException:
            return None

    for p in range(args.partitions):
        deadline = time.monotonic() + args.timeout_s
        tp = TopicPartition(args.topic, p)
        high = stable = None
        # A transaction still open holds the last stable offset below the high watermark until it
        # ends (its producer ends it, or the coordinator aborts it at its transaction.timeout.ms):
        # wait for that, so the committed read covers every record written.
        stable_deadline = min(deadline, time.monotonic() + STABLE_WAIT_S)
        while time.monotonic() < stable_deadline:
            high = watermark(uncommitted, tp)
            stable = watermark(consumer, tp) if high is not None else None
            if high is not None and stable is not None and stable >= high:
                break
            time.sleep(0.5)
        if high is None or stable is None:
            emit({'f': 'final-read', 'type': 'fail', 'partition': p, 'isolation': READ_COMMITTED,
                  'error': 'no high watermark or last stable offset'})
            continue
        consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING)])
        records = []
        end = min(stable, high)
        next_offset = 0
        while next_offset < end and time.monotonic() < deadline:
            # consume() returns once it has num_messages or its timeout passed: after a partition's
            # last batch (its end-of-partition event) it waits the whole timeout, so keep it short.
            for message in consumer.consume(num_messages=1000, timeout=FINAL_CONSUME_WAIT_S):
                if message.partition() != p:
                    continue  # left over from the partition read before
                if message.error() is not None:
                    # The end of what read_committed may read: past the last record when markers or
                    # aborted records follow it.
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        next_offset = max(next_offset, message.offset())
                    continue
                records.append([p, message.offset(), message.value().decode()])
                next_offset = max(next_offset, message.offset() + 1)
            if len(records) >= RECORDS_PER_EVENT_MAX:
                emit({'f': 'final-read', 'type': 'ok', 'partition': p, 'isolation': READ_COMMITTED,
                      'records': records})
                records = []
        failure = None
        if stable < high:
            failure = 'the last stable offset %d stayed below the high watermark %d (a transaction left open)' % (
                stable, high)
        elif next_offset < end:
            failure = 'read to offset %d of high watermark %d before the deadline' % (next_offset, high)
        if failure is None:
            emit({'f': 'final-read', 'type': 'ok', 'partition': p, 'isolation': READ_COMMITTED, 'records': records,
                  'highWatermark': high})
        else:
            emit({'f': 'final-read', 'type': 'ok', 'partition': p, 'isolation': READ_COMMITTED, 'records': records})
            emit({'f': 'final-read', 'type': 'fail', 'partition': p, 'isolation': READ_COMMITTED, 'error': failure})
        sys.stdout.flush()
    consumer.close()
    uncommitted.close()
    sys.stdout.flush()


# The transactional producer: transactions of a few records spread over several partitions, most
# committed, a seeded share aborted. Each transaction is one history event pair: `invoke` with the
# records planned, then `ok` (committed), `fail` (aborted: no commit was ever asked for, so it cannot
# have committed) or `info` (unknown: a commit was asked for and failed or timed out).
TXN_RECORDS_MIN = 2
TXN_RECORDS_MAX = 6
TXN_ABORT_SHARE = 0.25
# transaction.timeout.ms: a transaction its producer left open (fenced, or killed) is aborted by the
# coordinator after this; longer than a fault's failover, short enough for the final read to wait out.
TXN_TIMEOUT_MS = 20000
# Each flush/init/commit/abort call's timeout (librdkafka raises a retriable timeout error after it).
# A stopping worker finishes its transaction in at most a flush, an abort and a committed-offsets
# read: inside the campaign's 20 s before SIGKILL.
TXN_CALL_TIMEOUT_S = 5
TXN_COMMIT_ATTEMPTS_MAX = 3
# The consume-transform-produce member's records read (so offsets committed) per transaction.
# Enough to keep up with the watched topic (500 records/s by default) at a transaction a second or two.
CTP_RECORDS_PER_TRANSACTION_MAX = 2000


def error_of(exception):
    return exception.args[0] if exception.args and isinstance(exception.args[0], KafkaError) else None


def describe(exception):
    error = error_of(exception)
    return str(exception) if error is None else '%s: %s' % (error.name(), error.str())


class TransactionalProducer:
    """A transactional producer and the error handling confluent-kafka documents: a commit that
    timed out is retried, an abortable error is followed by abort_transaction, a fatal one (fenced,
    say) by a new instance with the same transactional.id, whose InitProducerId bumps the epoch,
    which fences the old instance and ends its open transaction."""

    def __init__(self, args):
        self.topic = args.topic
        self.config = dict(common(args))
        self.config.update({
            'transactional.id': args.name,
            'transaction.timeout.ms': TXN_TIMEOUT_MS,
            'linger.ms': 5,
            'request.timeout.ms': 10000,
            'retry.backoff.ms': 50,
            'debug': 'eos',
        })
        self.logger = librdkafka_logger()
        self.producer = None

    def start(self, reason):
        """A fresh, initialised instance; False when the worker is stopping first."""
        self.producer = Producer(self.config, logger=self.logger)
        while not stopping:
            try:
                self.producer.init_transactions(TXN_CALL_TIMEOUT_S)
                emit({'f': 'note', 'type': 'info', 'text': 'transactional producer initialised (%s)' % reason})
                return True
            except KafkaException as exception:
                error = error_of(exception)
                emit({'f': 'note', 'type': 'info', 'text': 'init_transactions failed: %s' % describe(exception)})
                if error is None or not error.retriable():
                    self.producer = Producer(self.config, logger=self.logger)
                time.sleep(0.5)
        return False

    def abort(self):
        """Aborts the open transaction; False when the producer must be replaced."""
        for _ in range(TXN_COMMIT_ATTEMPTS_MAX):
            try:
                self.producer.abort_transaction(TXN_CALL_TIMEOUT_S)
                return True
            except KafkaException as exception:
                error = error_of(exception)
                emit({'f': 'note', 'type': 'info', 'text': 'abort_transaction failed: %s' % describe(exception)})
                if error is None or not error.retriable() or stopping:
                    return False
        return False

    def commit(self):
        """(outcome, error, replace): commit_transaction, retried on timeouts as librdkafka documents."""
        last = None
        for _ in range(TXN_COMMIT_ATTEMPTS_MAX):
            try:
                self.producer.commit_transaction(TXN_CALL_TIMEOUT_S)
                return 'committed', None, False
            except KafkaException as exception:
                error = error_of(exception)
                last = describe(exception)
                if error is not None and error.retriable() and not error.txn_requires_abort() and not stopping:
                    continue
                if error is not None and error.txn_requires_abort():
                    # Abortable: abort, as documented. The commit may still have reached the
                    # coordinator (librdkafka aborts some of these with an epoch bump, which completes
                    # a prepared commit), so the outcome stays unknown.
                    return 'unknown', last + '; then aborted', not self.abort()
                return 'unknown', last, True
        return 'unknown', last, True

    def run(self, records, planned, before_end=None):
        """One transaction of `records` ([partition, value]); `before_end(producer)` runs after they
        are delivered (send_offsets_to_transaction). Returns (outcome, records handed to the producer,
        error, whether the producer must be replaced)."""
        producer = self.producer
        produced = []
        failed = []

        def delivered(err, msg):
            if err is not None:
                failed.append(str(err))

        try:
            producer.begin_transaction()
            for partition, value in records:
                while True:
                    try:
                        producer.produce(self.topic, value=value.encode(), partition=partition, on_delivery=delivered)
                        break
                    except BufferError:
                        producer.poll(0.05)
                produced.append([partition, value])
            # Delivered before the transaction ends, either way: an abort would drop records still
            # queued in the client, and aborted records the brokers hold are what read_committed
            # readers must not see.
            remaining = producer.flush(TXN_CALL_TIMEOUT_S)
            problem = None
            if remaining > 0 or failed:
                problem = '%d records undelivered, %d failed (%s)' % (remaining, len(failed), '; '.join(failed[:3]))
            if planned == 'commit' and problem is None:
                if before_end is not None:
                    before_end(producer)
                outcome, error, replace = self.commit()
                return outcome, produced, error, replace
            return 'aborted', produced, problem, not self.abort()
        except KafkaException as exception:
            # Before any commit was asked for: the transaction can only be aborted (by this
            # producer, by the next instance's InitProducerId, or by the coordinator's timeout).
            error = error_of(exception)
            replace = error is None or error.fatal() or not self.abort()
            return 'aborted', produced, describe(exception), replace


def txn_done(base, outcome, produced, error, extra=None):
    done = dict(base, type={'committed': 'ok', 'aborted': 'fail', 'unknown': 'info'}[outcome], records=produced)
    done.update(extra or {})
    if error is not None:
        done['error'] = error
    emit(done)
    sys.stdout.flush()


def txn(args):
    rng = random.Random(args.seed)
    producer = TransactionalProducer(args)
    if not producer.start('start'):
        return
    number = 0
    seq = 0
    interval = 1.0 / args.rate
    next_at = time.monotonic()
    while not stopping:
        delay = next_at - time.monotonic()
        if delay > 0:
            producer.producer.poll(min(delay, 0.1))
            continue
        # Transactions run one at a time: one that took long is not made up for with a burst.
        next_at = max(next_at + interval, time.monotonic() - interval)
        count = rng.randint(TXN_RECORDS_MIN, TXN_RECORDS_MAX)
        first = rng.randrange(args.partitions)
        planned = 'abort' if rng.random() < TXN_ABORT_SHARE else 'commit'
        records = []
        for index in range(count):
            records.append([(first + index) % args.partitions, '%s#%d' % (args.name, seq)])
            seq += 1
        base = {'f': 'txn', 'txn': number, 'transactionalId': args.name, 'planned': planned}
        number += 1
        emit(dict(base, type='invoke', records=records))
        outcome, produced, error, replace = producer.run(records, planned)
        txn_done(base, outcome, produced, error)
        sys.stdout.flush()
        if replace and not stopping and not producer.start('after: %s' % error):
            break
    sys.stdout.flush()


def ctp(args):
    """Consume-transform-produce: a group member (read_committed) of the watched topic that writes a
    record for each record of the `--source` producer it reads and commits its consumed offsets in
    the same transaction (send_offsets_to_transaction). Each transaction's event lists, with its
    records, the input value each one transforms. After a transaction that did not commit, the
    consumer goes back to the group's committed offsets (the documented pattern)."""
    config = dict(common(args))
    config.update({
        'group.id': args.group,
        'enable.auto.commit': False,
        'auto.offset.reset': 'earliest',
        'session.timeout.ms': 6000,
        'heartbeat.interval.ms': 1000,
        'isolation.level': READ_COMMITTED,
    })
    consumer = Consumer(config)

    def on_assign(c, partitions):
        emit({'f': 'assign', 'type': 'ok', 'group': args.group, 'partitions': sorted(p.partition for p in partitions)})

    def on_revoke(c, partitions):
        emit({'f': 'assign', 'type': 'info', 'group': args.group, 'partitions': []})

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    producer = TransactionalProducer(args)
    if not producer.start('start'):
        consumer.close()
        return
    number = 0
    seq = 0
    while not stopping:
        records = records_of(consumer.consume(num_messages=CTP_RECORDS_PER_TRANSACTION_MAX, timeout=0.5))
        if not records:
            continue
        emit({'f': 'poll', 'type': 'ok', 'group': args.group, 'isolation': READ_COMMITTED, 'records': records})
        outputs = []
        inputs = []
        offsets = {}
        for partition, offset, value in records:
            offsets[partition] = offset + 1
            if value.rsplit('#', 1)[0] == args.source:
                outputs.append([partition, '%s#%d' % (args.name, seq)])
                inputs.append(value)
                seq += 1
        base = {'f': 'txn', 'txn': number, 'transactionalId': args.name, 'planned': 'commit', 'group': args.group}
        number += 1
        emit(dict(base, type='invoke', records=outputs, inputs=inputs))

        def send_offsets(p):
            p.send_offsets_to_transaction([TopicPartition(args.topic, part, off) for part, off in offsets.items()],
                                          consumer.consumer_group_metadata(), TXN_CALL_TIMEOUT_S)

        outcome, produced, error, replace = producer.run(outputs, 'commit', send_offsets)
        txn_done(base, outcome, produced, error, {'inputs': inputs[:len(produced)]})
        if replace and not stopping and not producer.start('after: %s' % error):
            break
        if outcome != 'committed' and not stopping:
            rewind(consumer, args, sorted(offsets))
        sys.stdout.flush()
    # The group's committed offsets at the end: every source record below them was transformed.
    try:
        committed = consumer.committed([TopicPartition(args.topic, p) for p in range(args.partitions)],
                                       timeout=TXN_CALL_TIMEOUT_S)
        emit({'f': 'committed', 'type': 'ok', 'group': args.group,
              'offsets': {str(tp.partition): tp.offset for tp in committed if tp.offset >= 0}})
    except KafkaException as exception:
        emit({'f': 'note', 'type': 'info', 'text': 'committed offsets not read at exit: %s' % describe(exception)})
    # Out before close, which leaves the group and may wait for a coordinator until SIGKILL.
    sys.stdout.flush()
    consumer.close()
    sys.stdout.flush()


def rewind(consumer, args, partitions):
    """Back to the group's committed offsets of `partitions` (a seek each, in the history too)."""
    try:
        committed = consumer.committed([TopicPartition(args.topic, p) for p in partitions], timeout=TXN_CALL_TIMEOUT_S)
    except KafkaException as exception:
        emit({'f': 'note', 'type': 'info', 'text': 'committed offsets not read for a rewind: %s' % describe(exception)})
        return
    assigned = set(tp.partition for tp in consumer.assignment())
    for tp in committed:
        if tp.partition not in assigned:
            continue
        offset = tp.offset if tp.offset >= 0 else 0
        emit({'f': 'seek', 'type': 'ok', 'partition': tp.partition, 'offset': offset})
        try:
            consumer.seek(TopicPartition(args.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))
        except KafkaException as exception:
            emit({'f': 'note', 'type': 'info', 'text': 'seek failed: %s' % describe(exception)})


def main():
    global NAME
    parser = argparse.ArgumentParser()
    parser.add_argument('role', choices=['produce', 'group', 'reader', 'final', 'txn', 'ctp'])
    parser.add_argument('--bootstrap', required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--name', required=True)
    parser.add_argument('--partitions', type=int, default=1)
    parser.add_argument('--rate', type=float, default=100)
    parser.add_argument('--acks', default='all', choices=['all', '1'])
    parser.add_argument('--group', default='chaos')
    parser.add_argument('--reread-s', type=float, default=60)
    parser.add_argument('--timeout-s', type=float, default=120)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--source', default='txn')
    parser.add_argument('--client-config', default=None)
    args = parser.parse_args()
    args.client_config = read_client_config(args.client_config)
    NAME = args.name
    {'produce': produce, 'group': group, 'reader': reader, 'final': final, 'txn': txn,
     'ctp': ctp}[args.role](args)


if __name__ == '__main__':
    main()
