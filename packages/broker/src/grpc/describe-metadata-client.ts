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
  /** How to dial the controller listener; PLAINTEXT when absent. */
  readonly credentials?: grpc.ChannelCredentials;
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
    target.credentials ?? grpc.credentials.createInsecure(),
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
