// One DescribeMetadata call to one node's controller listener, for tools outside the cluster (the
// metadata shell with --controller). Unlike ControllerClient it follows no redirects: any voter
// answers from its own applied image, and the answer names the controller it knows.

import * as grpc from '@grpc/grpc-js';
import type { RpcResponse } from '../quorum/controller-rpc.js';
import { internalChannelOptions, serviceClient } from './protos.js';

export type DescribeMetadataResponse = RpcResponse<'DescribeMetadata'>;

export interface DescribeMetadataTarget {
  readonly host: string;
  readonly port: number;
  /** '' when the caller does not know it yet: the node answers with its own. */
  readonly clusterId?: string;
  readonly timeoutMs: number;
  /** How to dial the controller listener; PLAINTEXT when absent (and no `tls`). */
  readonly credentials?: grpc.ChannelCredentials;
  /** TLS from PEM material, for tools that have files rather than grpc credentials. */
  readonly tls?: DescribeMetadataTls;
}

export interface DescribeMetadataTls {
  /** The CA certificates the node's certificate must chain to. */
  readonly caPem: Buffer;
  /** This client's key and certificate chain, for a listener with ssl.client.auth=required. */
  readonly keyPem?: Buffer;
  readonly certificateChainPem?: Buffer;
  /** Check that the node's certificate names the host dialled (ssl.endpoint.identification.algorithm=https). */
  readonly verifyHostname: boolean;
}

function tlsCredentials(tls: DescribeMetadataTls): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    tls.caPem,
    tls.keyPem ?? null,
    tls.certificateChainPem ?? null,
    tls.verifyHostname ? {} : { checkServerIdentity: () => undefined },
  );
}

type DescribeMetadataMethod = (
  request: { clusterId: string },
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: DescribeMetadataResponse) => void,
) => void;

/** Resolves with the node's answer; rejects when the node cannot be reached within `timeoutMs`. */
export function describeMetadata(target: DescribeMetadataTarget): Promise<DescribeMetadataResponse> {
  const Client = serviceClient('controller.proto', 'gregor.controller.Controller');
  const client = new Client(
    `${target.host}:${target.port}`,
    target.credentials ??
      (target.tls === undefined ? grpc.credentials.createInsecure() : tlsCredentials(target.tls)),
    internalChannelOptions,
  );
  const call = (client as unknown as { DescribeMetadata: DescribeMetadataMethod }).DescribeMetadata.bind(
    client,
  );
  return new Promise<DescribeMetadataResponse>((resolve, reject) => {
    call(
      { clusterId: target.clusterId ?? '' },
      new grpc.Metadata(),
      { deadline: Date.now() + target.timeoutMs },
      (error, response) => (error === null ? resolve(response) : reject(error)),
    );
  }).finally(() => client.close());
}
