// The transaction coordinators as a partition leader (or the group coordinator) sees them for
// KIP-890: each question is recorded and answered as the test says, at once or when it chooses.

import { ErrorCode } from '@gregor/protocol';
import type {
  TransactionVerificationRequest,
  TransactionVerifier,
} from '../replica/transaction-verification.js';

export class FakeTransactionVerifier implements TransactionVerifier {
  /** Every question, in the order asked. */
  readonly asked: TransactionVerificationRequest[] = [];
  /** How the next questions are answered (NONE, in the transaction, until a test says otherwise). */
  answer: (request: TransactionVerificationRequest) => Promise<number> = async () => ErrorCode.NONE;

  verify(request: TransactionVerificationRequest): Promise<number> {
    this.asked.push(request);
    return this.answer(request);
  }
}
