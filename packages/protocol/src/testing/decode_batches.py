"""Independent RecordBatch v2 decoder/encoder for Gregor's tests, built on kafka-python.

kafka-python (Debian: python3-kafka) has its own v2 record code, its own CRC-32C and its own codec
glue, so agreeing with it checks our layout, CRC range and compression framing against a second
implementation. Run with /usr/bin/python3 (the interpreter Debian's package is installed for).

  decode_batches.py codecs                 -> {"gzip": true, "snappy": true, ...}
  decode_batches.py decode <batches-file>  -> JSON list of batches with their records
  decode_batches.py build <spec.json> <out> -> writes batches built by DefaultRecordBatchBuilder

Bytes travel as base64 strings (null for a null key, value or header value).
"""
import base64
import json
import struct
import sys

import kafka.codec as codecs
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords


def b64(data):
    return None if data is None else base64.b64encode(bytes(data)).decode('ascii')


def unb64(text):
    return None if text is None else base64.b64decode(text)


def available_codecs():
    return {
        'gzip': codecs.has_gzip(),
        'snappy': codecs.has_snappy(),
        'lz4': codecs.has_lz4(),
        'zstd': codecs.has_zstd(),
    }


def decode(path):
    with open(path, 'rb') as handle:
        data = handle.read()
    records = MemoryRecords(data)
    batches = []
    while records.has_next():
        batch = records.next_batch()
        fields = DefaultRecordBatch.HEADER_STRUCT.unpack_from(bytes(batch._buffer))
        # validate_crc must run before iteration: iterating replaces the buffer with the decompressed records.
        crc_valid = batch.validate_crc()
        batches.append({
            'baseOffset': batch.base_offset,
            'batchLength': fields[1],
            'partitionLeaderEpoch': fields[2],
            'magic': batch.magic,
            'crc': batch.crc,
            'crcValid': crc_valid,
            'compression': batch.compression_type,
            'timestampType': batch.timestamp_type,
            'isTransactional': batch.is_transactional,
            'isControl': batch.is_control_batch,
            'lastOffsetDelta': batch.last_offset_delta,
            'baseTimestamp': batch.first_timestamp,
            'maxTimestamp': batch.max_timestamp,
            'producerId': fields[9],
            'producerEpoch': fields[10],
            'baseSequence': fields[11],
            'recordsCount': fields[12],
            'records': [
                {
                    'offset': record.offset,
                    'timestamp': record.timestamp,
                    'key': b64(record.key),
                    'value': b64(record.value),
                    'headers': [[key, b64(value)] for key, value in record.headers],
                }
                for record in batch
            ],
        })
    print(json.dumps({'batches': batches, 'validBytes': records.valid_bytes()}))


def build(spec_path, out_path):
    with open(spec_path) as handle:
        spec = json.load(handle)
    parts = []
    for batch in spec['batches']:
        builder = DefaultRecordBatchBuilder(
            magic=2,
            compression_type=batch['compression'],
            is_transactional=batch['isTransactional'],
            producer_id=batch['producerId'],
            producer_epoch=batch['producerEpoch'],
            base_sequence=batch['baseSequence'],
            batch_size=1 << 30,
        )
        for record in batch['records']:
            metadata = builder.append(
                record['offsetDelta'],
                timestamp=record['timestamp'],
                key=unb64(record['key']),
                value=unb64(record['value']),
                headers=[(key, unb64(value)) for key, value in record['headers']],
            )
            if metadata is None:
                raise SystemExit('kafka-python refused a record (batch_size too small?)')
        data = bytearray(builder.build())
        # baseOffset lies outside the CRC, so stamping it here is what a broker does on append.
        struct.pack_into('>q', data, 0, batch['baseOffset'])
        parts.append(bytes(data))
    with open(out_path, 'wb') as handle:
        handle.write(b''.join(parts))
    print(json.dumps({'sizes': [len(part) for part in parts]}))


def main(argv):
    if len(argv) >= 2 and argv[1] == 'codecs':
        print(json.dumps(available_codecs()))
    elif len(argv) == 3 and argv[1] == 'decode':
        decode(argv[2])
    elif len(argv) == 4 and argv[1] == 'build':
        build(argv[2], argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
