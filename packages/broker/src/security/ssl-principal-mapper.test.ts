import { describe, expect, it } from 'vitest';
import { rfc2253Name, SslPrincipalMapper } from './ssl-principal-mapper.js';

// The cases of Kafka's SslPrincipalMapperTest.
describe('ssl.principal.mapping.rules', () => {
  it('applies the first matching rule, with $n groups and L/U case changes', () => {
    const mapper = SslPrincipalMapper.parse(
      'RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,' +
        'RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,' +
        'RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U,' +
        'RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,' +
        'DEFAULT',
    );
    expect(mapper.map('CN=kafka1,OU=ServiceUsers,O=Org,C=US')).toEqual({ ok: true, name: 'kafka1' });
    expect(mapper.map('CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Palo Alto,ST=CA,C=US')).toEqual({
      ok: true,
      name: 'duke@javasoft',
    });
    expect(mapper.map('cn=duke,ou=javasoft,dc=example,dc=com')).toEqual({ ok: true, name: 'DUKE@JAVASOFT' });
    expect(mapper.map('OU=JavaSoft,CN=test.user,O=Sun')).toEqual({ ok: true, name: 'TEST.USER' });
    expect(mapper.map('OU=Nobody')).toEqual({ ok: true, name: 'OU=Nobody' });
  });

  it('refuses a name no rule matches, and malformed rules', () => {
    const mapper = SslPrincipalMapper.parse('RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/');
    expect(mapper.map('CN=alice,OU=Eng')).toEqual({
      ok: false,
      reason: 'no ssl.principal.mapping.rules rule applies to CN=alice,OU=Eng',
    });
    for (const bad of ['DEFAULTS', 'RULE:/', 'RULE:^CN=(.*$/$1/', '']) {
      expect(() => SslPrincipalMapper.parse(bad), bad).toThrow();
    }
  });

  it('writes a subject in RFC 2253 order and escaping, as Java gives it to Kafka', () => {
    expect(rfc2253Name('C=US\nO=Acme, Inc.\nOU=Eng\nCN=alice')).toBe('CN=alice,OU=Eng,O=Acme\\, Inc.,C=US');
  });
});
