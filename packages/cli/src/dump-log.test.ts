import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchField, CompressionType, computeBatchCrc, encodeRecordBatch } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './commands.js';
import { formatBytes, runDumpLog, segmentBaseOffset } from './dump-log.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
/** Building protocol and cli from scratch with tsc -b takes a few seconds; this is the hook's ceiling. */
const buildTimeoutMs = 120_000;

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  get lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gregor-dump-log-'));
});
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function writeSegment(name: string, data: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

function dump(...args: string[]): { code: number; out: Capture; err: Capture } {
  const out = new Capture();
  const err = new Capture();
  const code = runDumpLog(args, out, err);
  return { code, out, err };
}

const t0 = 1_700_000_000_000;
const batches = [
  encodeRecordBatch({
    baseOffset: 100,
    partitionLeaderEpoch: 4,
    records: [
      {
        key: Buffer.from('k1'),
        value: Buffer.from('hello'),
        headers: [{ key: 'trace', value: Buffer.from('abc') }],
        timestamp: t0,
      },
      { key: null, value: Buffer.from([0, 1, 2]), timestamp: t0 + 5 },
      { key: Buffer.from('k3'), value: null, timestamp: t0 + 2 },
    ],
    producerId: 42,
    producerEpoch: 3,
    baseSequence: 10,
  }),
  encodeRecordBatch({
    baseOffset: 103,
    partitionLeaderEpoch: 4,
    records: [{ key: null, value: Buffer.from('zipped'.repeat(20)), timestamp: t0 + 10 }],
    compression: CompressionType.Gzip,
    isTransactional: true,
    producerId: 43,
    producerEpoch: 0,
    baseSequence: 0,
  }),
  encodeRecordBatch({
    baseOffset: 104,
    partitionLeaderEpoch: 5,
    records: [
      { key: null, value: Buffer.from('z1'), timestamp: t0 + 20 },
      { key: null, value: Buffer.from('z2'), timestamp: t0 + 21 },
    ],
    compression: CompressionType.Zstd,
  }),
];
const positions = [0, batches[0]!.length, batches[0]!.length + batches[1]!.length];
const segmentName = '00000000000000000100.log';

describe('gregor dump-log on .log segments', () => {
  it('prints one line per batch, in the kafka-dump-log layout, and exits 0', () => {
    const path = writeSegment(segmentName, Buffer.concat(batches));
    const { code, out } = dump(path);
    expect(code).toBe(0);
    expect(out.lines[0]).toBe(`Dumping ${path}`);
    expect(out.lines[1]).toBe('Log starting offset: 100');
    expect(out.lines[2]).toBe(
      'baseOffset: 100 lastOffset: 102 count: 3 baseSequence: 10 lastSequence: 12 producerId: 42 producerEpoch: 3 ' +
        `partitionLeaderEpoch: 4 isTransactional: false isControl: false position: 0 CreateTime: ${t0 + 5} ` +
        `size: ${batches[0]!.length} magic: 2 compresscodec: none crc: ${batches[0]!.readUInt32BE(BatchField.crc)} isvalid: true`,
    );
    expect(out.lines[3]).toContain(`baseOffset: 103 lastOffset: 103 count: 1`);
    expect(out.lines[3]).toContain(`isTransactional: true`);
    expect(out.lines[3]).toContain(`position: ${positions[1]} `);
    expect(out.lines[3]).toContain('compresscodec: gzip');
    expect(out.lines[4]).toContain(
      `baseOffset: 104 lastOffset: 105 count: 2 baseSequence: -1 lastSequence: -1`,
    );
    expect(out.lines[4]).toContain('compresscodec: zstd');
    expect(out.lines).toHaveLength(5);
  });

  it('--print-data adds each record: offset, timestamp, key, value, headers', () => {
    const path = writeSegment(segmentName, Buffer.concat(batches));
    const { code, out } = dump(path, '--print-data');
    expect(code).toBe(0);
    const records = out.lines.filter((line) => line.startsWith('| '));
    expect(records).toHaveLength(6);
    expect(records[0]).toBe(
      `| offset: 100 CreateTime: ${t0} keySize: 2 valueSize: 5 sequence: 10 headerKeys: [trace] key: k1 payload: hello headers: [trace=abc]`,
    );
    expect(records[1]).toContain('offset: 101');
    expect(records[1]).toContain('key: null payload: 0x000102');
    expect(records[2]).toContain('keySize: 2 valueSize: -1');
    expect(records[3]).toContain(`offset: 103 CreateTime: ${t0 + 10}`);
    expect(records[5]).toContain('offset: 105');
    expect(records[5]).toContain('payload: z2');
  });

  it('reports a bad CRC, keeps going to the next batch, and exits 1', () => {
    const log = Buffer.concat(batches);
    log[positions[1]! + 70]! ^= 0x40;
    const { code, out } = dump(writeSegment(segmentName, log));
    expect(code).toBe(1);
    expect(out.lines[3]).toContain('isvalid: false');
    expect(out.lines[4]).toMatch(
      new RegExp(
        `^corrupt batch at position ${positions[1]}: CRC mismatch \\(stored \\d+, computed \\d+\\)$`,
      ),
    );
    expect(out.lines[5]).toContain('baseOffset: 104');
  });

  it('reports a torn tail and stops there, for a cut inside a batch and inside the length field', () => {
    const log = Buffer.concat(batches);
    const cutInBatch = log.subarray(0, positions[2]! + 30);
    const first = dump(writeSegment(segmentName, cutInBatch));
    expect(first.code).toBe(1);
    expect(first.out.lines.at(-1)).toBe(
      `truncated batch at position ${positions[2]}: length field says ${batches[2]!.length} byte(s), only 30 present`,
    );
    const cutInLength = log.subarray(0, positions[2]! + 5);
    const second = dump(writeSegment(segmentName, cutInLength));
    expect(second.code).toBe(1);
    expect(second.out.lines.at(-1)).toBe(
      `truncated batch at position ${positions[2]}: 5 trailing byte(s), fewer than the 12-byte offset and length`,
    );
  });

  it('reports an impossible length and a malformed record behind a valid CRC', () => {
    const forgedLength = Buffer.concat(batches);
    forgedLength.writeInt32BE(3, positions[1]! + BatchField.batchLength);
    const forged = dump(writeSegment(segmentName, forgedLength));
    expect(forged.code).toBe(1);
    expect(forged.out.lines.at(-1)).toContain(
      `corrupt batch at position ${positions[1]}: length field says 15 byte(s)`,
    );

    const badRecord = Buffer.from(batches[0]!);
    // The first record's length is a one-byte zig-zag varint right after the header: claim one byte more.
    const lengthAt = BatchField.records;
    badRecord[lengthAt] = ((badRecord[lengthAt]! >> 1) + 1) << 1;
    badRecord.writeUInt32BE(computeBatchCrc(badRecord, 0, badRecord.length), BatchField.crc);
    const malformed = dump(writeSegment(segmentName, badRecord));
    expect(malformed.code).toBe(1);
    expect(malformed.out.lines[2]).toContain('isvalid: true');
    expect(malformed.out.lines[3]).toMatch(/^corrupt batch at position 0: CORRUPT_MESSAGE: /);
  });
});

function offsetIndex(entries: [number, number][], preallocatedEntries = 0): Buffer {
  const data = Buffer.alloc((entries.length + preallocatedEntries) * 8);
  entries.forEach(([relativeOffset, position], i) => {
    data.writeInt32BE(relativeOffset, i * 8);
    data.writeInt32BE(position, i * 8 + 4);
  });
  return data;
}

function timeIndex(entries: [number, number][], preallocatedEntries = 0): Buffer {
  const data = Buffer.alloc((entries.length + preallocatedEntries) * 12);
  entries.forEach(([timestamp, relativeOffset], i) => {
    data.writeBigInt64BE(BigInt(timestamp), i * 12);
    data.writeInt32BE(relativeOffset, i * 12 + 8);
  });
  return data;
}

describe('gregor dump-log on index files', () => {
  it('prints .index entries with absolute offsets and stops at the zero-filled preallocation', () => {
    // The first entry may legitimately be all zeros (relative offset 0 at position 0).
    const path = writeSegment(
      '00000000000000000100.index',
      offsetIndex(
        [
          [0, 0],
          [7, 4200],
          [15, 8500],
        ],
        100,
      ),
    );
    const { code, out } = dump(path);
    expect(code).toBe(0);
    expect(out.lines.slice(1)).toEqual([
      'Log starting offset: 100',
      'offset: 100 position: 0',
      'offset: 107 position: 4200',
      'offset: 115 position: 8500',
      'zero-filled (preallocated) entries from position 24: end of index',
    ]);
  });

  it('prints .timeindex entries and reports a torn entry and entries going backwards', () => {
    const clean = dump(
      writeSegment(
        '00000000000000000100.timeindex',
        timeIndex(
          [
            [t0, 3],
            [t0 + 9, 12],
          ],
          5,
        ),
      ),
    );
    expect(clean.code).toBe(0);
    expect(clean.out.lines.slice(2)).toEqual([
      `timestamp: ${t0} offset: 103`,
      `timestamp: ${t0 + 9} offset: 112`,
      'zero-filled (preallocated) entries from position 24: end of index',
    ]);

    const torn = Buffer.concat([timeIndex([[t0, 3]]), Buffer.alloc(5, 1)]);
    const tornDump = dump(writeSegment('00000000000000000100.timeindex', torn));
    expect(tornDump.code).toBe(1);
    expect(tornDump.out.lines.at(-1)).toBe('truncated index entry at position 12: 5 byte(s), entries are 12');

    const backwards = dump(
      writeSegment(
        '00000000000000000000.index',
        offsetIndex([
          [5, 100],
          [4, 200],
        ]),
      ),
    );
    expect(backwards.code).toBe(1);
    expect(backwards.out.lines.at(-1)).toBe('corrupt index entry 1 at position 8: offset goes backwards');
  });
});

describe('gregor command line', () => {
  it('usage errors exit 2', async () => {
    expect(dump().code).toBe(2);
    expect(dump('--bogus', 'x.log').code).toBe(2);
    expect(dump(join(dir, 'file.txt')).code).toBe(2);
    const missing = dump(join(dir, '00000000000000000000.log.missing.log'));
    expect(missing.code).toBe(2);
    expect(missing.err.text).toContain('cannot read');
    const out = new Capture();
    const err = new Capture();
    expect(await runCli([], out, err)).toBe(2);
    expect(await runCli(['no-such-command'], out, err)).toBe(2);
    expect(err.text).toContain("unknown command 'no-such-command'");
    expect(await runCli(['--help'], out, err)).toBe(0);
    expect(out.text).toContain('dump-log');
  });

  it('formats bytes as text when printable, else hex', () => {
    expect(formatBytes(Buffer.from('plain text'))).toBe('plain text');
    expect(formatBytes(Buffer.from([0xff, 0x00]))).toBe('0xff00');
    expect(formatBytes(null)).toBe('null');
    expect(segmentBaseOffset('/a/00000000000000012345.log')).toBe(12345);
    expect(segmentBaseOffset('/a/segment.log')).toBeNull();
  });

  describe('the built binary', () => {
    beforeAll(() => {
      execFileSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: repoRoot, stdio: 'pipe' });
    }, buildTimeoutMs);

    it('node packages/cli/dist/main.js dump-log prints the segment and exits with its code', () => {
      const log = Buffer.concat(batches);
      const cleanPath = writeSegment(segmentName, log);
      const clean = spawnSync(
        process.execPath,
        ['packages/cli/dist/main.js', 'dump-log', cleanPath, '--print-data'],
        {
          cwd: repoRoot,
          encoding: 'utf8',
        },
      );
      expect(clean.stderr).toBe('');
      expect(clean.status).toBe(0);
      expect(clean.stdout).toContain('baseOffset: 104 lastOffset: 105 count: 2');
      expect(clean.stdout).toContain('| offset: 100 ');

      const tornPath = writeSegment('00000000000000000200.log', log.subarray(0, log.length - 1));
      const torn = spawnSync(process.execPath, ['packages/cli/dist/main.js', 'dump-log', tornPath], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      expect(torn.status).toBe(1);
      expect(torn.stdout).toContain(`truncated batch at position ${positions[2]}`);

      const usage = spawnSync(process.execPath, ['packages/cli/dist/main.js'], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      expect(usage.status).toBe(2);
      expect(usage.stderr).toContain('Usage: gregor');
    });
  });
});
