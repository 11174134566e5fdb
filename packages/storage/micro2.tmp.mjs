import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch } from '@gregor/protocol';
import { LogManager, parseBrokerLogConfig, systemClock } from './dist/index.js';
import { LogSegment } from './dist/log-segment.js';

const batches = Array.from({ length: 32 }, (_, b) =>
  encodeRecordBatch({
    records: Array.from({ length: 16 }, (_, r) => ({
      timestamp: 1,
      key: null,
      value: Buffer.alloc(1024, b + r),
    })),
  }),
);
const N = 16384;
async function seg() {
  const dir = await mkdtemp(join(tmpdir(), 'm-'));
  const s = await LogSegment.create(
    dir,
    0,
    { indexIntervalBytes: 4096, offsetIndexEntriesMax: 1e6, timeIndexEntriesMax: 1e6 },
    0,
  );
  let off = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const b = batches[i % 32];
    await s.append(
      b,
      [{ position: 0, sizeBytes: b.length, baseOffset: off, lastOffset: off + 15, maxTimestamp: 1 }],
      0,
    );
    off += 16;
  }
  const us = Number(process.hrtime.bigint() - t) / 1e3 / N;
  await s.flush();
  await s.close();
  await rm(dir, { recursive: true });
  return us;
}
async function plain() {
  const dir = await mkdtemp(join(tmpdir(), 'm-'));
  const h = await open(join(dir, 'f'), 'w');
  let pos = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const b = batches[i % 32];
    await h.write(b, 0, b.length, pos);
    pos += b.length;
  }
  const us = Number(process.hrtime.bigint() - t) / 1e3 / N;
  await h.datasync();
  await h.close();
  await rm(dir, { recursive: true });
  return us;
}
async function log() {
  const dir = await mkdtemp(join(tmpdir(), 'm-'));
  const m = await LogManager.open({ config: parseBrokerLogConfig({ 'log.dirs': dir }), clock: systemClock });
  const l = await m.getOrCreateLog('b', 0);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await l.append(batches[i % 32], 0);
  const us = Number(process.hrtime.bigint() - t) / 1e3 / N;
  await m.close();
  await rm(dir, { recursive: true });
  return us;
}
const r = { plain: [], seg: [], log: [] };
for (let k = 0; k < 5; k++) {
  r.plain.push(await plain());
  r.seg.push(await seg());
  r.log.push(await log());
}
for (const [k, v] of Object.entries(r))
  console.log(k, v.map((x) => x.toFixed(1)).join(' '), 'median', v.sort((a, b) => a - b)[2].toFixed(1));
