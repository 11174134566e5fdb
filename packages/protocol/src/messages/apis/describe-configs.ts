// DescribeConfigs (key 32), versions 0-4; flexible from 4.
//   Request  => [resources => resource_type resource_name [configuration_keys](nullable)]
//               include_synonyms(1+) include_documentation(3+)
//   Response => throttle_time_ms
//               [results => error_code error_message(nullable) resource_type resource_name
//                 [configs => name value(nullable) read_only is_default(v0 only) config_source(1+)
//                   is_sensitive [synonyms => name value(nullable) source](1+)
//                   config_type(3+) documentation(3+, nullable)]]
// Resource types: 2 topic, 4 broker. Spec: apache/kafka DescribeConfigsRequest.json /
// DescribeConfigsResponse.json (the JSON spells the request flag "IncludeSynoyms").

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const configResourceType = { topic: 2, broker: 4, brokerLogger: 8 } as const;

export const describeConfigsApi = defineApi(
  'DescribeConfigs',
  {
    resources: f.structArray('0+', {
      resourceType: f.int8('0+'),
      resourceName: f.string('0+'),
      configurationKeys: f.array('0+', t.string, { nullableVersions: '0+' }),
    }),
    includeSynonyms: f.bool('1+', { default: false }),
    includeDocumentation: f.bool('3+', { default: false }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    results: f.structArray('0+', {
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
      resourceType: f.int8('0+'),
      resourceName: f.string('0+'),
      configs: f.structArray('0+', {
        name: f.string('0+'),
        value: f.string('0+', { nullableVersions: '0+' }),
        readOnly: f.bool('0+'),
        isDefault: f.bool('0'),
        configSource: f.int8('1+', { default: -1, ignorable: true }),
        isSensitive: f.bool('0+'),
        synonyms: f.structArray(
          '1+',
          {
            name: f.string('1+'),
            value: f.string('1+', { nullableVersions: '0+' }),
            source: f.int8('1+'),
          },
          { ignorable: true },
        ),
        configType: f.int8('3+', { default: 0, ignorable: true }),
        documentation: f.string('3+', { nullableVersions: '0+', ignorable: true }),
      }),
    }),
  },
);
