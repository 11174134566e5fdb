// socket.send.buffer.bytes and socket.receive.buffer.bytes: the kernel's SO_SNDBUF and SO_RCVBUF,
// as Kafka sets them (-1 leaves the OS default, which Linux autotunes). Node's net module has no
// setter for these, so `sockopt` (a small N-API setsockopt binding) sets them on the descriptor.
// The receive size goes on the listening socket too: the TCP window scale of a connection is
// fixed at its handshake, from the listener's buffer.

import { createRequire } from 'node:module';
import type { Server, Socket } from 'node:net';

/** Kafka's Selectable.USE_DEFAULT_BUFFER_SIZE. */
export const socketBufferOsDefault = -1;

export interface SocketBufferSizes {
  readonly sendBufferBytes: number;
  readonly receiveBufferBytes: number;
}

interface SockOpt {
  getsockopt(socket: Socket | Server, level: number, option: number): number;
  setsockopt(socket: Socket | Server, level: number, option: number, value: number): void;
}

/** SOL_SOCKET, SO_SNDBUF and SO_RCVBUF by platform (from <sys/socket.h>). */
const socketOptionNumbers: Readonly<
  Partial<Record<NodeJS.Platform, { solSocket: number; soSndbuf: number; soRcvbuf: number }>>
> = {
  linux: { solSocket: 1, soSndbuf: 7, soRcvbuf: 8 },
  darwin: { solSocket: 0xffff, soSndbuf: 0x1001, soRcvbuf: 0x1002 },
};

let loaded: SockOpt | undefined;
function sockopt(): SockOpt {
  loaded ??= createRequire(import.meta.url)('sockopt') as SockOpt;
  return loaded;
}

function numbers() {
  const found = socketOptionNumbers[process.platform];
  if (found === undefined) {
    throw new Error(
      `socket.send.buffer.bytes / socket.receive.buffer.bytes cannot be set on ${process.platform}; use -1`,
    );
  }
  return found;
}

/** Fails at start-up, not on the first connection, if the sizes cannot be applied here. */
export function checkSocketBufferSizesSupported(sizes: SocketBufferSizes): void {
  if (sizes.sendBufferBytes === socketBufferOsDefault && sizes.receiveBufferBytes === socketBufferOsDefault)
    return;
  numbers();
  sockopt();
}

/** On an accepted connection: both sizes. */
export function applySocketBufferSizes(socket: Socket, sizes: SocketBufferSizes): void {
  if (sizes.sendBufferBytes !== socketBufferOsDefault) setBufferSize(socket, 'send', sizes.sendBufferBytes);
  if (sizes.receiveBufferBytes !== socketBufferOsDefault) {
    setBufferSize(socket, 'receive', sizes.receiveBufferBytes);
  }
}

/** On a listening socket: the receive size, which accepted connections start with. */
export function applyListenerReceiveBufferSize(server: Server, sizes: SocketBufferSizes): void {
  if (sizes.receiveBufferBytes !== socketBufferOsDefault) {
    setBufferSize(server, 'receive', sizes.receiveBufferBytes);
  }
}

function setBufferSize(target: Socket | Server, which: 'send' | 'receive', bytes: number): void {
  const { solSocket, soSndbuf, soRcvbuf } = numbers();
  sockopt().setsockopt(target, solSocket, which === 'send' ? soSndbuf : soRcvbuf, bytes);
}

/** The kernel's view of a socket's buffers (Linux reports twice the size set: it adds bookkeeping room). */
export function socketBufferSizesOf(socket: Socket): SocketBufferSizes {
  const { solSocket, soSndbuf, soRcvbuf } = numbers();
  return {
    sendBufferBytes: sockopt().getsockopt(socket, solSocket, soSndbuf),
    receiveBufferBytes: sockopt().getsockopt(socket, solSocket, soRcvbuf),
  };
}
