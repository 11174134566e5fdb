import {
  AclOperation,
  AclPatternType,
  AclPermissionType,
  AclResourceType,
  type MetadataImage,
} from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { ControllerClient } from '../grpc/controller-grpc.js';
import { QuorumControllerChannel } from './quorum-controller-channel.js';

const ok = (committedOffset: number) => ({
  errorCode: ErrorCode.NONE,
  errorMessage: '',
  leaderId: 1,
  committedOffset,
});

/** A channel whose controller answers `response` to any call and whose metadata reaches `appliedOffset`. */
function channel(response: object, appliedOffset: number) {
  const calls: { method: string; request: unknown; timeoutMs: number }[] = [];
  const waited: number[] = [];
  const client = {
    call: async (method: string, request: unknown, timeoutMs: number) => {
      calls.push({ method, request, timeoutMs });
      return response;
    },
  } as unknown as ControllerClient;
  const publisher = {
    image: () => ({}) as MetadataImage,
    waitForOffset: async (offset: number) => {
      waited.push(offset);
      return offset <= appliedOffset;
    },
  };
  return { channel: new QuorumControllerChannel(client, publisher), calls, waited };
}

const binding = {
  resourceType: AclResourceType.TOPIC,
  resourceName: 't',
  patternType: AclPatternType.LITERAL,
  principal: 'User:alice',
  host: '*',
  operation: AclOperation.READ,
  permissionType: AclPermissionType.ALLOW,
};
const options = { timeoutMs: 1_000 };

describe('QuorumControllerChannel', () => {
  it('answers once the committed change is applied here, with null messages for entries that succeeded', async () => {
    const {
      channel: acls,
      calls,
      waited,
    } = channel(
      {
        status: ok(42),
        results: [
          { errorCode: ErrorCode.NONE, errorMessage: '' },
          { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'bad' },
        ],
      },
      42,
    );
    expect(await acls.createAcls([binding, binding], options)).toEqual({
      results: [
        { errorCode: ErrorCode.NONE, errorMessage: null },
        { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'bad' },
      ],
    });
    expect(calls).toEqual([
      { method: 'CreateAcls', request: { creations: [binding, binding] }, timeoutMs: 1_000 },
    ]);
    expect(waited).toEqual([42]);
  });

  it("answers the controller's failure of the whole call, once for a single answer and once per entry", async () => {
    const failed = {
      status: { ...ok(-1), errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'moved' },
      topics: [],
    };
    const { channel: single } = channel(failed, 0);
    expect(await single.unregisterBroker(3, options)).toEqual({
      errorCode: ErrorCode.NOT_CONTROLLER,
      errorMessage: 'moved',
    });
    const { channel: each } = channel(failed, 0);
    expect(await each.deleteTopics([{ name: 'a' }, { name: 'b' }], options)).toEqual([
      { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'moved' },
      { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'moved' },
    ]);
  });

  it('answers REQUEST_TIMED_OUT for a change committed but not yet applied on this broker', async () => {
    const { channel: late, waited } = channel(
      { status: ok(9), topics: [{ name: 'a', topicId: 'x', errorCode: 0, errorMessage: '' }] },
      8,
    );
    expect(await late.deleteTopics([{ name: 'a' }], options)).toEqual([
      {
        errorCode: ErrorCode.REQUEST_TIMED_OUT,
        errorMessage: 'the change committed but is not yet applied on this broker',
      },
    ]);
    expect(waited).toEqual([9]);
    const { channel: applied } = channel(
      { status: ok(9), topics: [{ name: 'a', topicId: 'x', errorCode: 0, errorMessage: '' }] },
      9,
    );
    expect(await applied.deleteTopics([{ name: 'a' }], options)).toEqual([{ name: 'a', topicId: 'x' }]);
  });
});
