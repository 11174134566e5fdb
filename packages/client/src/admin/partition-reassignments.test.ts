// alterPartitionReassignments / listPartitionReassignments over a scripted cluster: the request goes
// to the controller (asked again after NOT_CONTROLLER), kafkajs's input checks, its error shapes,
// and an answer that carries both of kafkajs's field names.

import { ApiKey, ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import {
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSNonRetriableError,
} from '../errors.js';
import { resolveRetry } from '../retry.js';
import { alterPartitionReassignments, listPartitionReassignments } from './partition-reassignments.js';

class ScriptedControllers {
  readonly retry = resolveRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 2 });
  readonly sent: { nodeId: number; apiKey: number; body: Record<string, unknown> }[] = [];
  /** The controller each metadata refresh names, in turn (the last one stays). */
  controllers = [1];
  controller = -1;
  answers: Record<string, unknown>[] = [];

  async refreshMetadata(): Promise<void> {
    this.controller = this.controllers.length > 1 ? this.controllers.shift()! : this.controllers[0]!;
  }
  async send(nodeId: number, apiKey: number, body: Record<string, unknown>) {
    this.sent.push({ nodeId, apiKey, body });
    return this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
  }
}

const cluster = (scripted: ScriptedControllers) => scripted as unknown as Cluster;
const ok = { errorCode: 0, errorMessage: null, responses: [] };

describe('alterPartitionReassignments', () => {
  it('sends the moves to the controller, and to the new one after NOT_CONTROLLER', async () => {
    const scripted = new ScriptedControllers();
    scripted.controllers = [1, 3];
    scripted.answers = [{ errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: null, responses: [] }, ok];
    await alterPartitionReassignments(
      cluster(scripted),
      [{ topic: 'orders', partitionAssignment: [{ partition: 0, replicas: [2, 3] }] }],
      7_000,
    );
    expect(scripted.sent.map((request) => request.nodeId)).toEqual([1, 3]);
    expect(scripted.sent[1]).toMatchObject({
      apiKey: ApiKey.AlterPartitionReassignments,
      body: {
        timeoutMs: 7_000,
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, replicas: [2, 3] }] }],
      },
    });
  });

  it('rejects refused partitions together in a KafkaJSAggregateError, each with its topic and partition', async () => {
    const scripted = new ScriptedControllers();
    scripted.answers = [
      {
        errorCode: 0,
        errorMessage: null,
        responses: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, errorCode: 0, errorMessage: null },
              {
                partitionIndex: 1,
                errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                errorMessage: 'broker 9',
              },
            ],
          },
        ],
      },
    ];
    const moves = [
      {
        topic: 'orders',
        partitionAssignment: [
          { partition: 0, replicas: [1, 2] },
          { partition: 1, replicas: [9] },
        ],
      },
    ];
    const error = await alterPartitionReassignments(cluster(scripted), moves, 5_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaJSAggregateError);
    const [refused] = (error as KafkaJSAggregateError).errors;
    expect(refused).toBeInstanceOf(KafkaJSAlterPartitionReassignmentsError);
    expect(refused).toMatchObject({ type: 'INVALID_REPLICA_ASSIGNMENT', topic: 'orders', partition: 1 });
    expect((error as KafkaJSAggregateError).errors).toHaveLength(1);
  });

  it('rejects a refused request with KafkaJSAlterPartitionReassignmentsError, not retried', async () => {
    const scripted = new ScriptedControllers();
    scripted.answers = [
      { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'denied', responses: [] },
    ];
    const moves = [{ topic: 'orders', partitionAssignment: [{ partition: 0, replicas: [1] }] }];
    await expect(alterPartitionReassignments(cluster(scripted), moves, 5_000)).rejects.toMatchObject({
      name: 'KafkaJSAlterPartitionReassignmentsError',
      type: 'CLUSTER_AUTHORIZATION_FAILED',
    });
    expect(scripted.sent).toHaveLength(1);
  });

  it('checks its input as kafkajs does, before sending anything', async () => {
    const scripted = new ScriptedControllers();
    const bad = [
      [
        { topic: 'a', partitionAssignment: [] },
        { topic: 'a', partitionAssignment: [] },
      ],
      [{ topic: 'a', partitionAssignment: [{ partition: -1, replicas: [1] }] }],
      [{ topic: 'a', partitionAssignment: [{ partition: 0, replicas: [-1] }] }],
      [{ topic: 'a', partitionAssignment: undefined }],
    ];
    for (const topics of bad) {
      await expect(
        alterPartitionReassignments(cluster(scripted), topics as never, 5_000),
      ).rejects.toBeInstanceOf(KafkaJSNonRetriableError);
    }
    expect(scripted.sent).toEqual([]);
  });
});

describe('listPartitionReassignments', () => {
  it('asks the controller (null topics: every reassignment) and answers with both of kafkajs field names', async () => {
    const scripted = new ScriptedControllers();
    scripted.controllers = [2];
    scripted.answers = [
      {
        errorCode: 0,
        errorMessage: null,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, replicas: [2, 3, 1], addingReplicas: [3], removingReplicas: [1] },
            ],
          },
        ],
      },
    ];
    const answer = await listPartitionReassignments(cluster(scripted), null, 5_000);
    expect(scripted.sent[0]).toMatchObject({ nodeId: 2, body: { topics: null } });
    expect(answer).toEqual({
      topics: [
        {
          name: 'orders',
          topic: 'orders',
          partitions: [
            {
              partition: 0,
              partitionIndex: 0,
              replicas: [2, 3, 1],
              addingReplicas: [3],
              removingReplicas: [1],
            },
          ],
        },
      ],
    });
    await listPartitionReassignments(cluster(scripted), [{ topic: 'orders', partitions: [0, 2] }], 5_000);
    expect(scripted.sent[1]?.body).toMatchObject({ topics: [{ name: 'orders', partitionIndexes: [0, 2] }] });
    await expect(
      listPartitionReassignments(cluster(scripted), [{ topic: 'orders', partitions: [-1] }], 5_000),
    ).rejects.toBeInstanceOf(KafkaJSNonRetriableError);
  });
});
