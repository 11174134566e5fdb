import { describe, expect, it } from 'vitest';
import {
  jaasFileEntry,
  jaasFilePathFromKafkaOpts,
  parseJaasFile,
  plainLoginModule,
  plainUsers,
} from './jaas-config.js';
import { oauthBearerLoginModule } from './unsecured-jwt.js';

// A broker's JAAS file as Kafka's documentation writes one (kafka_server_jaas.conf), with comments
// and a listener-prefixed section.
const file = `
// The broker's own login, and the PLAIN users it accepts.
KafkaServer {
   org.apache.kafka.common.security.plain.PlainLoginModule required
   username="admin"
   password="admin-secret"
   user_admin="admin-secret"
   user_alice="alice-secret";
   org.apache.kafka.common.security.scram.ScramLoginModule required;
};

/* Only the SASL_INTERNAL listener: another set of users. */
sasl_internal.KafkaServer {
   org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="b\\"ob";
};

Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="zk" password="zk-secret"; };
`;

describe('JAAS files', () => {
  it('reads every section with its entries, comments skipped and quotes unescaped', () => {
    const sections = parseJaasFile(file);
    expect([...sections.keys()]).toEqual(['KafkaServer', 'sasl_internal.KafkaServer', 'Client']);
    const server = sections.get('KafkaServer')!;
    expect(server.map((entry) => entry.loginModule)).toEqual([
      plainLoginModule,
      'org.apache.kafka.common.security.scram.ScramLoginModule',
    ]);
    expect([...plainUsers(server[0]!)]).toEqual([
      ['admin', 'admin-secret'],
      ['alice', 'alice-secret'],
    ]);
    expect(server[1]!.options.size).toBe(0);
    expect([...plainUsers(sections.get('sasl_internal.KafkaServer')![0]!)]).toEqual([['bob', 'b"ob']]);
  });

  it("takes a listener's section first, else KafkaServer, as Kafka's JaasContext does", () => {
    const sections = parseJaasFile(file);
    const internal = jaasFileEntry(sections, 'SASL_INTERNAL', plainLoginModule);
    expect(internal?.section).toBe('sasl_internal.KafkaServer');
    expect([...plainUsers(internal!.entry!)]).toEqual([['bob', 'b"ob']]);
    const external = jaasFileEntry(sections, 'SASL_EXTERNAL', plainLoginModule);
    expect(external?.section).toBe('KafkaServer');
    expect([...plainUsers(external!.entry!).keys()]).toEqual(['admin', 'alice']);
    // The section exists but lacks the module: said so, not skipped to KafkaServer.
    expect(jaasFileEntry(sections, 'SASL_INTERNAL', oauthBearerLoginModule)).toEqual({
      section: 'sasl_internal.KafkaServer',
      entry: undefined,
    });
    expect(jaasFileEntry(parseJaasFile('Client { M required; };'), 'X', plainLoginModule)).toBeUndefined();
  });

  it('names what is wrong with a file', () => {
    expect(() => parseJaasFile('KafkaServer { M required user_a="x" };')).toThrow(
      'in section KafkaServer: a JAAS entry ends with a semicolon',
    );
    expect(() => parseJaasFile('KafkaServer { M always; };')).toThrow(
      "in section KafkaServer: 'always' is not a JAAS control flag",
    );
    expect(() => parseJaasFile('KafkaServer { M required; }')).toThrow(
      "section KafkaServer must end with '};'",
    );
    expect(() => parseJaasFile('M required user_a="x";')).toThrow('expected a section `Name { ... };`');
    expect(() => parseJaasFile('A { M required; }; A { M required; };')).toThrow('section A appears twice');
    expect(() => parseJaasFile('A { M required user_a="x; };')).toThrow(/cannot read the JAAS configuration/);
  });

  it('finds -Djava.security.auth.login.config in KAFKA_OPTS, the last one winning as in the JVM', () => {
    expect(jaasFilePathFromKafkaOpts(undefined)).toBeUndefined();
    expect(jaasFilePathFromKafkaOpts('-Xmx1g -Dfoo=bar')).toBeUndefined();
    expect(
      jaasFilePathFromKafkaOpts('-Djava.security.auth.login.config=/etc/kafka/kafka_server_jaas.conf'),
    ).toBe('/etc/kafka/kafka_server_jaas.conf');
    expect(
      jaasFilePathFromKafkaOpts(
        '-Xms1g -Djava.security.auth.login.config="/a b/jaas.conf" -Djava.security.auth.login.config==/c.conf -Dx=y',
      ),
    ).toBe('/c.conf');
    expect(jaasFilePathFromKafkaOpts("-Djava.security.auth.login.config='/a b/jaas.conf'")).toBe(
      '/a b/jaas.conf',
    );
    // A longer property name is another property.
    expect(jaasFilePathFromKafkaOpts('-Djava.security.auth.login.config.extra=/x')).toBeUndefined();
  });
});
