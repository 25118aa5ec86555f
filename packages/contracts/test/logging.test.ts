import { expect } from 'chai';
import { CREDENTIAL_LOG_PATHS, logRedaction, redactQuery } from '../src/index.js';

describe('log redaction', () => {
  it('replaces a ticket in a query string and keeps the rest of the URL', () => {
    expect(redactQuery('/v1/live?ticket=eyJhbGciOi.abc.def&x=1')).to.equal('/v1/live?ticket=[redacted]&x=1');
    expect(redactQuery('/v1/live?x=1&access_token=secret')).to.equal('/v1/live?x=1&access_token=[redacted]');
  });

  it('replaces a credential whose name is percent-encoded or in another case, every time it appears', () => {
    expect(redactQuery('/v1/live?%74icket=secret&x=1')).to.equal('/v1/live?%74icket=[redacted]&x=1');
    expect(redactQuery('/v1/live?tick%65t=secret#f')).to.equal('/v1/live?tick%65t=[redacted]#f');
    expect(redactQuery('/v1/live?TICKET=a&ticket=b&Ticket=c')).to.equal(
      '/v1/live?TICKET=[redacted]&ticket=[redacted]&Ticket=[redacted]',
    );
    expect(redactQuery('/v1/live?%zz=1&ticket%3D=x&tickets=y')).to.equal(
      '/v1/live?%zz=1&ticket%3D=x&tickets=y',
    );
  });

  it('leaves a URL without credentials as it is', () => {
    expect(redactQuery('/v1/sessions?limit=20&cursor=abc')).to.equal('/v1/sessions?limit=20&cursor=abc');
  });

  it('covers every credential field of the wire, nested or not', () => {
    for (const field of ['password', 'refreshToken', 'accessToken', 'ticket', 'authorization']) {
      expect(CREDENTIAL_LOG_PATHS).to.include(field);
      expect(CREDENTIAL_LOG_PATHS).to.include(`*.${field}`);
    }
  });

  it('serializes url and path fields through the query redaction', () => {
    const { serializers, redact } = logRedaction();
    expect(serializers.url('/a?token=x')).to.equal('/a?token=[redacted]');
    expect(serializers.path(42)).to.equal(42);
    expect(redact.censor).to.equal('[redacted]');
  });
});
