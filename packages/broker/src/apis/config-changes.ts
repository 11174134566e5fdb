// What AlterConfigs and IncrementalAlterConfigs share: one answer per resource, in request order.
// Topic configs go to the active controller, all of a topic's operations applied together or none,
// and are answered once committed in the metadata log and applied here (validate_only: once checked).
// Broker and broker-logger resources are refused: every broker config of Gregor is static (read at
// start from server.properties), so none can be changed at run time, which Kafka answers for its own
// static keys with INVALID_REQUEST "Cannot update these configs dynamically".

import type { AlterConfigOperation } from '@gregor/metadata';
import { configResourceType, ErrorCode } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { isFailure } from './broker-context.js';

/**
 * How long a config change waits to commit and apply: AlterConfigs requests carry no timeout, and
 * Kafka's brokers forward them to the controller with the client's default request timeout.
 */
export const configChangeTimeoutMs = 30_000;

export interface ResourceChange {
  readonly resourceType: number;
  readonly resourceName: string;
  /** The operations, or the error that refuses this resource before it reaches the controller. */
  readonly operations: readonly AlterConfigOperation[] | { errorCode: number; errorMessage: string };
}

export interface ResourceAnswer {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export async function applyConfigChanges(
  changes: readonly ResourceChange[],
  options: { validateOnly: boolean },
  context: RequestContext,
): Promise<ResourceAnswer[]> {
  const answers: (ResourceAnswer | undefined)[] = [];
  const forwarded: { position: number; topicName: string; operations: readonly AlterConfigOperation[] }[] =
    [];
  const seen = new Set<string>();
  changes.forEach((change, position) => {
    const answer = (errorCode: number, errorMessage: string | null): ResourceAnswer => ({
      resourceType: change.resourceType,
      resourceName: change.resourceName,
      errorCode,
      errorMessage,
    });
    const key = `${change.resourceType}:${change.resourceName}`;
    if (seen.has(key)) {
      answers.push(answer(ErrorCode.INVALID_REQUEST, `Duplicate resource ${change.resourceName}`));
      return;
    }
    seen.add(key);
    if (!Array.isArray(change.operations)) {
      const refusal = change.operations as { errorCode: number; errorMessage: string };
      answers.push(answer(refusal.errorCode, refusal.errorMessage));
      return;
    }
    const operations = change.operations as readonly AlterConfigOperation[];
    switch (change.resourceType) {
      case configResourceType.topic:
        answers.push(undefined);
        forwarded.push({ position, topicName: change.resourceName, operations });
        return;
      case configResourceType.broker: {
        const names = operations.map((operation) => operation.name).join(', ');
        answers.push(
          answer(
            ErrorCode.INVALID_REQUEST,
            `Cannot update these configs dynamically: Set(${names}); Gregor's broker configs are ` +
              'static: change server.properties and restart the broker',
          ),
        );
        return;
      }
      default:
        answers.push(
          answer(
            ErrorCode.INVALID_REQUEST,
            `Unsupported resource type ${change.resourceType} for altering configs`,
          ),
        );
    }
  });
  if (forwarded.length > 0) {
    const outcomes = await context.broker.controller.incrementalAlterConfigs(
      forwarded.map(({ topicName, operations }) => ({ topicName, operations })),
      { validateOnly: options.validateOnly, timeoutMs: configChangeTimeoutMs },
    );
    forwarded.forEach(({ position }, index) => {
      const outcome = outcomes[index]!;
      const change = changes[position]!;
      answers[position] = {
        resourceType: change.resourceType,
        resourceName: change.resourceName,
        errorCode: isFailure(outcome) ? outcome.errorCode : ErrorCode.NONE,
        errorMessage: isFailure(outcome) ? outcome.errorMessage : null,
      };
    });
  }
  return answers.map((answer) => answer!);
}
