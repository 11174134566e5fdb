// AlterReplicaLogDirs (key 34) v1-v2 against bytes assembled by hand from Kafka's JSON specs
// (AlterReplicaLogDirsRequest.json / AlterReplicaLogDirsResponse.json: v2 is flexible; v0, v1's
// layout, was removed in Kafka 4.0 and is refused here as Kafka 4 refuses it),
// and the v2 request body @platformatic/kafka 1.35 writes (its alterReplicaLogDirsV2 createRequest,
// the client the integration test moves replicas with; no other client here sends this API). Each
// body encodes to exactly these bytes and decodes back; the whole frames go through
// decodeRequest / encodeResponse as the broker's socket sees them.

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Reader } from '../reader.js';
import { ApiKey } from './api-keys.js';
import { alterReplicaLogDirsApi } from './apis/alter-replica-log-dirs.js';
import { decodeMessage, encodeMessage, type MessageSchema } from './codec.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './frames.js';
import type { Fields } from './schema.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

const path = '/var/lib/gregor/b';
const pathHex = Buffer.from(path).toString('hex');
const request = { dirs: [{ path, topics: [{ name: 't', partitions: [0, 2] }] }] };
const response = {
  throttleTimeMs: 0,
  results: [
    {
      topicName: 't',
      partitions: [
        { partitionIndex: 0, errorCode: 0 },
        // LOG_DIR_NOT_FOUND
        { partitionIndex: 2, errorCode: 57 },
      ],
    },
  ],
};

/** v1 (and the removed v0): int32 array counts, int16 string lengths, no tagged fields. */
const requestV1 = `00000001  0011 ${pathHex}  00000001 0001 74  00000002 00000000 00000002`;
const responseV1 = '00000000  00000001 0001 74  00000002  00000000 0000  00000002 0039';
/** v2: compact arrays and strings (length + 1 as an unsigned varint), a tag buffer per struct. */
const requestV2 = `02  12 ${pathHex}  02 0274 03 00000000 00000002 00  00  00`;
const responseV2 = '00000000  02 0274 03  00000000 0000 00  00000002 0039 00  00  00';
/** What @platformatic/kafka 1.35's alterReplicaLogDirsV2 createRequest wrote for `request`. */
const platformaticV2Body = `02122f7661722f6c69622f677265676f722f62020274030000000000000002000000`;

function expectLayout(schema: 'request' | 'response', version: number, value: object, bytes: string): void {
  const message = alterReplicaLogDirsApi[schema] as MessageSchema<Fields>;
  expect(encodeMessage(message, version, value as never).toBuffer()).toEqual(hex(bytes));
  const reader = new Reader(hex(bytes));
  expect(decodeMessage(message, version, reader)).toMatchObject(value);
  expect(reader.remaining).toBe(0);
}

describe('AlterReplicaLogDirs v1-v2 wire layout', () => {
  it('v1 has int32 counts and int16 strings', () => {
    expectLayout('request', 1, request, requestV1);
    expectLayout('response', 1, response, responseV1);
  });

  it("refuses a v0 request, as Kafka 4 does (KIP-896), though its body is v1's", () => {
    const frame = hex(`0022 0000 00000007 0003 676f72 ${requestV1}`);
    const decoded = decodeRequest(frame);
    expect(decoded).toMatchObject({ ok: false, reason: 'unsupported-version', apiVersion: 0 });
    expect(decodeRequest(hex(`0022 0001 00000007 0003 676f72 ${requestV1}`))).toMatchObject({
      ok: true,
      apiVersion: 1,
      body: request,
    });
  });

  it('v2 is flexible', () => {
    expectLayout('request', 2, request, requestV2);
    expectLayout('response', 2, response, responseV2);
  });

  it("decodes @platformatic/kafka's v2 request frame and writes it back byte for byte", () => {
    expect(hex(platformaticV2Body)).toEqual(hex(requestV2));
    // Request header v2: api key, version, correlation id, client id (int16 string), tag buffer.
    const frame = hex(`0022 0002 00000007 0003 676f72 00 ${platformaticV2Body}`);
    const decoded = decodeRequest(frame);
    if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.message}`);
    expect(decoded).toMatchObject({ apiKey: ApiKey.AlterReplicaLogDirs, apiVersion: 2, trailingBytes: 0 });
    expect(decoded.header).toMatchObject({ correlationId: 7, clientId: 'gor' });
    expect(decoded.body).toMatchObject(request);
    expect(encodeRequest(ApiKey.AlterReplicaLogDirs, 2, 7, 'gor', request)).toEqual(frame);
  });

  it('answers each version in its own layout (response header v1 from v2)', () => {
    for (const [version, header, body] of [
      [1, '00000007', responseV1],
      [2, '00000007 00', responseV2],
    ] as const) {
      const frame = encodeResponse(ApiKey.AlterReplicaLogDirs, version, 7, response);
      expect(frame).toEqual(hex(`${header} ${body}`));
      expect(decodeResponse(ApiKey.AlterReplicaLogDirs, version, frame)).toMatchObject({
        ok: true,
        correlationId: 7,
        body: response,
      });
    }
  });
});
