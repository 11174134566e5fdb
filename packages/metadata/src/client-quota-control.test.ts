import { describe, expect, it } from 'vitest';
import { type AlterClientQuotasRequest, ClientQuotaControlManager } from './client-quota-control.js';
import { QuotaMatchType, quotaEntityKey, quotaFilterMatches, quotaFilterProblem } from './client-quotas.js';
import { ControllerBatch } from './controller-batch.js';
import { ControllerErrorCode } from './errors.js';
import { MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';
import { decodeImageSnapshot, encodeImageSnapshot } from './snapshot.js';

function alter(image: MetadataImage, request: AlterClientQuotasRequest) {
  const batch = new ControllerBatch(image);
  const response = new ClientQuotaControlManager().alterClientQuotas(batch, request);
  return { response, records: batch.records as MetadataRecord[], image: batch.delta.apply() };
}

const user = (name: string | null) => ({ entityType: 'user', entityName: name });
const client = (name: string | null) => ({ entityType: 'client-id', entityName: name });
const ip = (name: string | null) => ({ entityType: 'ip', entityName: name });

describe('client quotas in the metadata log', () => {
  it('stores set keys per entity, whatever the component order, and removes them', () => {
    const set = alter(MetadataImage.empty, {
      validateOnly: false,
      entries: [
        {
          entity: [client('app'), user('alice')],
          ops: [
            { key: 'producer_byte_rate', value: 1024 },
            { key: 'consumer_byte_rate', value: 2048 },
          ],
        },
        { entity: [client(null)], ops: [{ key: 'consumer_byte_rate', value: 4096 }] },
      ],
    });
    expect(set.response.results).toEqual([
      { errorCode: ControllerErrorCode.NONE, errorMessage: null },
      { errorCode: ControllerErrorCode.NONE, errorMessage: null },
    ]);
    const stored = set.image.clientQuota(quotaEntityKey([user('alice'), client('app')]));
    expect(stored?.entity).toEqual([user('alice'), client('app')]);
    expect([...stored!.values]).toEqual([
      ['producer_byte_rate', 1024],
      ['consumer_byte_rate', 2048],
    ]);
    expect(set.image.clientQuota(quotaEntityKey([client(null)]))?.values.get('consumer_byte_rate')).toBe(
      4096,
    );

    const removed = alter(set.image, {
      validateOnly: false,
      entries: [
        {
          entity: [user('alice'), client('app')],
          ops: [
            { key: 'producer_byte_rate', value: null },
            { key: 'consumer_byte_rate', value: null },
          ],
        },
      ],
    });
    expect(removed.records).toHaveLength(2);
    expect(removed.image.clientQuota(quotaEntityKey([user('alice'), client('app')]))).toBeUndefined();
  });

  it('writes no record for a value that does not change or a key that is not there', () => {
    const first = alter(MetadataImage.empty, {
      validateOnly: false,
      entries: [{ entity: [user('bob')], ops: [{ key: 'producer_byte_rate', value: 10 }] }],
    });
    const again = alter(first.image, {
      validateOnly: false,
      entries: [
        {
          entity: [user('bob')],
          ops: [
            { key: 'producer_byte_rate', value: 10 },
            { key: 'consumer_byte_rate', value: null },
          ],
        },
      ],
    });
    expect(again.records).toEqual([]);
    expect(again.response.results[0]?.errorCode).toBe(ControllerErrorCode.NONE);
  });

  it('refuses invalid entries with INVALID_REQUEST, each on its own, and keeps the valid ones', () => {
    const cases: [AlterClientQuotasRequest['entries'][number], string][] = [
      [{ entity: [], ops: [{ key: 'producer_byte_rate', value: 1 }] }, 'empty'],
      [{ entity: [{ entityType: 'group', entityName: 'g' }], ops: [] }, 'Unhandled'],
      [{ entity: [user('a'), user('b')], ops: [] }, 'Duplicate'],
      [{ entity: [ip('10.0.0.1'), user('a')], ops: [] }, 'IP entity'],
      [{ entity: [user('a')], ops: [{ key: 'log.retention.ms', value: 1 }] }, 'Invalid configuration key'],
      [
        { entity: [user('a')], ops: [{ key: 'connection_creation_rate', value: 1 }] },
        'Invalid configuration key',
      ],
      [{ entity: [ip(null)], ops: [{ key: 'producer_byte_rate', value: 1 }] }, 'Invalid configuration key'],
      [{ entity: [user('a')], ops: [{ key: 'producer_byte_rate', value: 1.5 }] }, 'whole number'],
      [{ entity: [user('a')], ops: [{ key: 'producer_byte_rate', value: -1 }] }, 'negative'],
      [{ entity: [user('a')], ops: [{ key: 'producer_byte_rate', value: Number.NaN }] }, 'finite'],
      [{ entity: [ip('10.0.0.2')], ops: [{ key: 'connection_creation_rate', value: 1.5 }] }, 'whole number'],
      [{ entity: [user('a')], ops: [{ key: 'request_percentage', value: -0.5 }] }, 'negative'],
      [
        {
          entity: [user('a')],
          ops: [
            { key: 'producer_byte_rate', value: 1 },
            { key: 'producer_byte_rate', value: 2 },
          ],
        },
        'Duplicate quota key',
      ],
    ];
    for (const [entry, message] of cases) {
      const outcome = alter(MetadataImage.empty, {
        validateOnly: false,
        entries: [entry, { entity: [user('b')], ops: [{ key: 'producer_byte_rate', value: 5 }] }],
      });
      expect(outcome.response.results, message).toEqual([
        { errorCode: ControllerErrorCode.INVALID_REQUEST, errorMessage: expect.stringContaining(message) },
        { errorCode: ControllerErrorCode.NONE, errorMessage: null },
      ]);
      expect(outcome.records.map((record) => record.type === 'clientQuota' && record.key)).toEqual([
        'producer_byte_rate',
      ]);
    }
  });

  it('validateOnly checks and writes nothing', () => {
    const outcome = alter(MetadataImage.empty, {
      validateOnly: true,
      entries: [
        { entity: [user('a')], ops: [{ key: 'producer_byte_rate', value: 100 }] },
        { entity: [user('a')], ops: [{ key: 'bogus', value: 100 }] },
      ],
    });
    expect(outcome.records).toEqual([]);
    expect(outcome.response.results.map((result) => result.errorCode)).toEqual([
      ControllerErrorCode.NONE,
      ControllerErrorCode.INVALID_REQUEST,
    ]);
  });

  it('survives a snapshot', () => {
    const { image } = alter(MetadataImage.empty, {
      validateOnly: false,
      entries: [
        { entity: [user(null), client('c')], ops: [{ key: 'consumer_byte_rate', value: 4096 }] },
        { entity: [client(null)], ops: [{ key: 'producer_byte_rate', value: 7 }] },
      ],
    });
    const restored = decodeImageSnapshot(encodeImageSnapshot(image));
    expect(restored.clientQuotas).toEqual(image.clientQuotas);
  });
});

describe('client quota filters (DescribeClientQuotas)', () => {
  const entities = {
    alice: [user('alice')],
    aliceApp: [user('alice'), client('app')],
    defaultUser: [user(null)],
    app: [client('app')],
  };
  const matching = (components: Parameters<typeof quotaFilterMatches>[0], strict: boolean) =>
    Object.entries(entities)
      .filter(([, entity]) => quotaFilterMatches(components, strict, entity))
      .map(([name]) => name);

  it('matches exact, default and any specified names, strictly or not', () => {
    const exactAlice = [{ entityType: 'user', matchType: QuotaMatchType.EXACT, match: 'alice' }];
    expect(matching(exactAlice, false)).toEqual(['alice', 'aliceApp']);
    expect(matching(exactAlice, true)).toEqual(['alice']);
    expect(matching([{ entityType: 'user', matchType: QuotaMatchType.DEFAULT, match: null }], false)).toEqual(
      ['defaultUser'],
    );
    expect(
      matching([{ entityType: 'user', matchType: QuotaMatchType.SPECIFIED, match: null }], false),
    ).toEqual(['alice', 'aliceApp', 'defaultUser']);
    expect(
      matching([{ entityType: 'client-id', matchType: QuotaMatchType.SPECIFIED, match: null }], true),
    ).toEqual(['app']);
    expect(matching([], false)).toEqual(['alice', 'aliceApp', 'defaultUser', 'app']);
    expect(matching([], true)).toEqual([]);
  });

  it('refuses unknown types, repeated types, names where none belong, and ip with user', () => {
    expect(quotaFilterProblem([{ entityType: 'group', matchType: 0, match: 'g' }])).toMatch(/not supported/);
    expect(
      quotaFilterProblem([
        { entityType: 'user', matchType: 2, match: null },
        { entityType: 'user', matchType: 1, match: null },
      ]),
    ).toMatch(/Duplicate/);
    expect(quotaFilterProblem([{ entityType: 'user', matchType: 0, match: null }])).toMatch(/needs a name/);
    expect(quotaFilterProblem([{ entityType: 'user', matchType: 1, match: 'x' }])).toMatch(/takes no name/);
    expect(quotaFilterProblem([{ entityType: 'user', matchType: 3, match: null }])).toMatch(/Unknown match/);
    expect(
      quotaFilterProblem([
        { entityType: 'ip', matchType: 2, match: null },
        { entityType: 'user', matchType: 2, match: null },
      ]),
    ).toMatch(/IP filter/);
    expect(quotaFilterProblem([{ entityType: 'client-id', matchType: 0, match: 'app' }])).toBeNull();
  });
});
