// What a controller operation returns: the records to propose and the answer, or an expected
// failure as a value, never an exception (STYLE.md rule 4).

import { ErrorCode } from '@gregor/protocol';
import type { MetadataRecord } from './records.js';

/**
 * Kafka error codes the controller needs that @gregor/protocol's table lacks (Kafka's Errors.java).
 * Kept here until the shared table has them.
 */
export const controllerOnlyErrorCode = {
  /** AlterPartition with a stale partition epoch (Kafka's answer to a lost ISR-change race). */
  INVALID_UPDATE_VERSION: 95,
  /** AlterPartition adding a fenced or shutting-down broker to the ISR. */
  INELIGIBLE_REPLICA: 107,
} as const;

export const ControllerErrorCode = { ...ErrorCode, ...controllerOnlyErrorCode } as const;

export interface ControllerError {
  readonly errorCode: number;
  readonly errorMessage: string;
}

export function controllerError(errorCode: number, errorMessage: string): ControllerError {
  return { errorCode, errorMessage };
}

export interface ControllerSuccess<R> {
  /** Records to propose as one atomic batch; empty when nothing changes (nothing to propose). */
  readonly records: readonly MetadataRecord[];
  readonly response: R;
}

export type ControllerOutcome<R> = ControllerSuccess<R> | ControllerError;

export function isControllerError<R>(outcome: ControllerOutcome<R>): outcome is ControllerError {
  return 'errorCode' in outcome;
}

/** Whether a manager's answer (a response object, or a ControllerError) is the error. */
export function isErrorValue<T extends object>(value: T | ControllerError): value is ControllerError {
  return 'errorCode' in value;
}
