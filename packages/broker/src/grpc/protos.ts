// Loads Gregor's gRPC schemas from the repository's proto/ directory (GREGOR_PROTO_DIR overrides,
// for images that put it elsewhere). Numbers stay JS numbers: offsets and epochs are safe integers.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export function protoDir(): string {
  const fromEnv = process.env.GREGOR_PROTO_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  // Works from src/ (vitest) and dist/ (node): walk up to the directory that holds proto/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(join(dir, 'proto', 'controller.proto'))) return join(dir, 'proto');
    dir = dirname(dir);
  }
  throw new Error('cannot find the proto/ directory; set GREGOR_PROTO_DIR');
}

const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

const cache = new Map<string, grpc.GrpcObject>();

export function loadProto(fileName: string): grpc.GrpcObject {
  let loaded = cache.get(fileName);
  if (loaded === undefined) {
    const definition = protoLoader.loadSync(join(protoDir(), fileName), loaderOptions);
    loaded = grpc.loadPackageDefinition(definition);
    cache.set(fileName, loaded);
  }
  return loaded;
}

/** The service definition `package.Service` from a .proto file. */
export function serviceDefinition(fileName: string, qualifiedName: string): grpc.ServiceDefinition {
  return serviceClient(fileName, qualifiedName).service;
}

export function serviceClient(fileName: string, qualifiedName: string): grpc.ServiceClientConstructor {
  let node: unknown = loadProto(fileName);
  for (const part of qualifiedName.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`${qualifiedName} is not a service in ${fileName}`);
  return node as grpc.ServiceClientConstructor;
}

/** Channel options shared by every internal client: fast detection of dead peers. */
export const internalChannelOptions: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.max_receive_message_length': 128 * 1024 * 1024,
  'grpc.max_send_message_length': 128 * 1024 * 1024,
};

/** Server options matching the clients' keepalive, so pings are not refused as abuse. */
export const internalServerOptions: grpc.ServerOptions = {
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  'grpc.max_receive_message_length': 128 * 1024 * 1024,
  'grpc.max_send_message_length': 128 * 1024 * 1024,
};
