// Fails loudly if a native dependency did not install (npm 11 can skip install scripts,
// and napi-rs packages rely on optionalDependencies matching this platform).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../packages/protocol/package.json', import.meta.url));
const requireRaft = createRequire(new URL('../packages/raft/package.json', import.meta.url));
const requireBroker = createRequire(new URL('../packages/broker/package.json', import.meta.url));

const checks = [
  ['@node-rs/crc32', (m) => m.crc32c(Buffer.from('123456789')) === 0xe3069283],
  ['snappy', (m) => m.uncompressSync(m.compressSync(Buffer.from('gregor'))).toString() === 'gregor'],
  [
    'lz4-napi',
    (m) => m.decompressFrameSync(m.compressFrameSync(Buffer.from('gregor'))).toString() === 'gregor',
  ],
  ['zstd-napi', (m) => m.decompress(m.compress(Buffer.from('gregor'))).toString() === 'gregor'],
];
let failed = false;
for (const [name, works] of checks) {
  try {
    const ok = works(require(name));
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
    failed ||= !ok;
  } catch (error) {
    console.log(`FAIL ${name}: ${error.message}`);
    failed = true;
  }
}
try {
  requireRaft('classic-level');
  console.log('ok   classic-level (level)');
} catch (error) {
  console.log(`FAIL classic-level: ${error.message}`);
  failed = true;
}
try {
  // sockopt ships prebuilt N-API binaries; SOL_SOCKET/SO_RCVBUF as on Linux.
  const { getsockopt } = requireBroker('sockopt');
  const { createServer } = await import('node:net');
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const ok = process.platform !== 'linux' || getsockopt(server, 1, 8) > 0;
  server.close();
  console.log(`${ok ? 'ok  ' : 'FAIL'} sockopt`);
  failed ||= !ok;
} catch (error) {
  console.log(`FAIL sockopt: ${error.message}`);
  failed = true;
}
if (failed) process.exit(1);
