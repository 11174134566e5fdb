// Metadata v10-v13 against bytes assembled by hand from Kafka's MetadataRequest.json and
// MetadataResponse.json: topic ids (v10), the cluster's authorized operations gone (v11), a topic
// asked for by id with a null name (v12), the top-level error code (v13).

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../reader.js';
import { decodeMessage, encodeMessage } from '../codec.js';
import { zeroUuid } from '../schema.js';
import { authorizedOperationsOmitted, metadataApi } from './metadata.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const topicId = '0102030405060708090a0b0c0d0e0f10';

describe('Metadata request v10+', () => {
  it('v12: a topic asked for by id has a null name', () => {
    const message = {
      topics: [{ topicId, name: null }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    };
    // [topics: 1 => topic_id, name null, tags] allow_auto include_topic_ops tags
    const bytes = hex(`02 ${topicId} 00 00   01 00 00`);
    expect(encodeMessage(metadataApi.request, 12, message).toBuffer()).toEqual(bytes);
    expect(decodeMessage(metadataApi.request, 12, new Reader(bytes))).toEqual(message);
  });

  it('v10 still carries include_cluster_authorized_operations; v11 does not', () => {
    const body = { topics: [{ topicId: zeroUuid, name: 'a' }], includeTopicAuthorizedOperations: true };
    expect(encodeMessage(metadataApi.request, 10, body).toBuffer()).toEqual(
      hex(`02 ${zeroUuid} 02 61 00   01 00 01 00`),
    );
    expect(encodeMessage(metadataApi.request, 11, body).toBuffer()).toEqual(
      hex(`02 ${zeroUuid} 02 61 00   01 01 00`),
    );
    const v11 = decodeMessage(metadataApi.request, 11, new Reader(hex(`01 01 01 00`)));
    expect(v11).toEqual({
      topics: [],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: true,
    });
  });
});

describe('Metadata response v10+', () => {
  const broker = { nodeId: 1, host: 'h', port: 9092, rack: null };
  const unknownById = {
    errorCode: 100,
    name: null,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: authorizedOperationsOmitted,
  };
  // throttle [brokers: node host port rack tags] cluster_id controller_id
  const head = `00000000  02 00000001 0268 00002384 00 00  0263 00000001`;
  // [topics: error name(null) topic_id internal [partitions] topic_ops tags]
  const topics = `02 0064 00 ${topicId} 00 01 80000000 00`;

  it('v13: a null name for an unknown id, no cluster operations, a top-level error code', () => {
    const message = {
      throttleTimeMs: 0,
      brokers: [broker],
      clusterId: 'c',
      controllerId: 1,
      topics: [unknownById],
      clusterAuthorizedOperations: authorizedOperationsOmitted,
      errorCode: 0,
    };
    const bytes = hex(`${head} ${topics}  0000 00`);
    expect(encodeMessage(metadataApi.response, 13, message).toBuffer()).toEqual(bytes);
    expect(decodeMessage(metadataApi.response, 13, new Reader(bytes))).toEqual(message);
  });

  it('v10 has the topic id and the cluster operations, v12 no cluster operations, neither the error code', () => {
    const named = { ...unknownById, errorCode: 0, name: 't' };
    const message = {
      throttleTimeMs: 0,
      brokers: [broker],
      clusterId: 'c',
      controllerId: 1,
      topics: [named],
    };
    const topic = `02 0000 0274 ${topicId} 00 01 80000000 00`;
    expect(encodeMessage(metadataApi.response, 10, message).toBuffer()).toEqual(
      hex(`${head} ${topic} 80000000 00`),
    );
    expect(encodeMessage(metadataApi.response, 12, message).toBuffer()).toEqual(hex(`${head} ${topic} 00`));
  });

  it('refuses a null name before v12', () => {
    const message = { brokers: [], controllerId: 1, topics: [unknownById] };
    expect(() => encodeMessage(metadataApi.response, 11, message)).toThrow(/null/);
  });
});
