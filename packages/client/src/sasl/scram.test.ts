import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { plainToken } from './plain.js';
import { encodeSaslName, ScramClient, scramSha256, scramSha512 } from './scram.js';

// RFC 7677 section 3: user "user", password "pencil".
const rfc7677 = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('SCRAM client', () => {
  it("follows RFC 7677's SCRAM-SHA-256 example byte for byte and accepts its server signature", async () => {
    const client = new ScramClient(scramSha256, 'user', 'pencil', rfc7677.clientNonce);
    expect(client.firstMessage().toString()).toBe(rfc7677.clientFirst);
    const final = await client.finalMessage(Buffer.from(rfc7677.serverFirst));
    expect(final.ok && final.message.toString()).toBe(rfc7677.clientFinal);
    expect(client.verifyServerFinal(Buffer.from(rfc7677.serverFinal))).toEqual({ ok: true });
  });

  it('refuses a server signature that does not prove the credential, and a server error', async () => {
    const client = new ScramClient(scramSha256, 'user', 'pencil', rfc7677.clientNonce);
    await client.finalMessage(Buffer.from(rfc7677.serverFirst));
    const forged = client.verifyServerFinal(Buffer.from(`v=${Buffer.alloc(32, 7).toString('base64')}`));
    expect(forged.ok).toBe(false);
    const refused = client.verifyServerFinal(Buffer.from('e=invalid-proof'));
    expect(refused).toEqual({ ok: false, reason: 'server refused: invalid-proof' });
  });

  it('refuses a server nonce that does not extend the client nonce, and iterations out of bounds', async () => {
    const client = () => new ScramClient(scramSha256, 'user', 'pencil', rfc7677.clientNonce);
    const replayed = await client().finalMessage(
      Buffer.from('r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    );
    expect(replayed).toEqual({ ok: false, reason: 'the server nonce does not extend the client nonce' });
    const unchanged = await client().finalMessage(
      Buffer.from(`r=${rfc7677.clientNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`),
    );
    expect(unchanged.ok).toBe(false);
    const weak = await client().finalMessage(
      Buffer.from(`r=${rfc7677.clientNonce}xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000`),
    );
    expect(weak.ok === false && weak.reason).toMatch(/1000 iterations/);
    const malformed = await client().finalMessage(Buffer.from('garbage'));
    expect(malformed.ok).toBe(false);
  });

  it('SCRAM-SHA-512: the proof is what a server holding StoredKey checks, and its signature is accepted', async () => {
    const salt = Buffer.from('a-salt-of-sixteen');
    const iterations = 4096;
    const serverFirst = `r=clientNonce123serverPart,s=${salt.toString('base64')},i=${iterations}`;
    const client = new ScramClient(scramSha512, 'ali=ce,', 'secret', 'clientNonce123');
    expect(client.firstMessage().toString()).toBe('n,,n=ali=3Dce=2C,r=clientNonce123');
    const final = await client.finalMessage(Buffer.from(serverFirst));
    if (!final.ok) throw new Error(final.reason);
    // The server side, from RFC 5802 section 3, computed independently here.
    const salted = pbkdf2Sync('secret', salt, iterations, 64, 'sha512');
    const storedKey = createHash('sha512')
      .update(createHmac('sha512', salted).update('Client Key').digest())
      .digest();
    const serverKey = createHmac('sha512', salted).update('Server Key').digest();
    const withoutProof = 'c=biws,r=clientNonce123serverPart';
    const authMessage = `n=ali=3Dce=2C,r=clientNonce123,${serverFirst},${withoutProof}`;
    const text = final.message.toString();
    expect(text.startsWith(`${withoutProof},p=`)).toBe(true);
    const proof = Buffer.from(text.slice(withoutProof.length + 3), 'base64');
    const signature = createHmac('sha512', storedKey).update(authMessage).digest();
    const recoveredClientKey = Buffer.from(proof.map((byte, index) => byte ^ signature[index]!));
    expect(createHash('sha512').update(recoveredClientKey).digest()).toEqual(storedKey);
    const serverSignature = createHmac('sha512', serverKey).update(authMessage).digest('base64');
    expect(client.verifyServerFinal(Buffer.from(`v=${serverSignature}`))).toEqual({ ok: true });
  });

  it('sends extensions after the nonce, where the server reads tokenauth=true, and signs them too', async () => {
    const client = new ScramClient(scramSha256, 'tokenid', 'hmac-base64', 'nonce1', { tokenauth: 'true' });
    expect(client.firstMessage().toString()).toBe('n,,n=tokenid,r=nonce1,tokenauth=true');
    const salt = Buffer.from('salt');
    const serverFirst = `r=nonce1server,s=${salt.toString('base64')},i=4096`;
    const final = await client.finalMessage(Buffer.from(serverFirst));
    if (!final.ok) throw new Error(final.reason);
    const salted = pbkdf2Sync('hmac-base64', salt, 4096, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const withoutProof = 'c=biws,r=nonce1server';
    const authMessage = `n=tokenid,r=nonce1,tokenauth=true,${serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', createHash('sha256').update(clientKey).digest())
      .update(authMessage)
      .digest();
    const proof = Buffer.from(clientKey.map((byte, index) => byte ^ signature[index]!)).toString('base64');
    expect(final.message.toString()).toBe(`${withoutProof},p=${proof}`);
  });

  it('escapes = and , in user names', () => {
    expect(encodeSaslName('a=b,c')).toBe('a=3Db=2Cc');
  });
});

describe('PLAIN', () => {
  it('sends an empty authzid, the user and the password separated by NUL', () => {
    expect(plainToken('carol', 'carol-secret')).toEqual(Buffer.from('\u0000carol\u0000carol-secret'));
  });
});
