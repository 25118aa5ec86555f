import { expect } from 'chai';
import { AccessTokens } from '../../src/accounts/tokens.js';
import { Unauthenticated } from '../../src/errors.js';

const SECRET = 'a-test-secret-of-at-least-32-characters!';

function refusal(verify: () => unknown): string {
  try {
    verify();
  } catch (err) {
    expect(err).to.be.instanceOf(Unauthenticated);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('AccessTokens', () => {
  it('refuses a token it accepted before once the token expires (issue 13: verified tokens are remembered)', () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const tokens = new AccessTokens(SECRET, 60, () => now);
    const token = tokens.sign('00000000-0000-4000-8000-000000000001', 'trainee');
    expect(tokens.verify(token)).to.deep.equal({
      userId: '00000000-0000-4000-8000-000000000001',
      role: 'trainee',
    });
    now += 59_999;
    expect(tokens.verify(token).role).to.equal('trainee');
    now += 1;
    expect(refusal(() => tokens.verify(token))).to.equal('access token expired');
  });

  it('refuses a token with a changed signature even after accepting the original', () => {
    const tokens = new AccessTokens(SECRET, 60);
    const token = tokens.sign('00000000-0000-4000-8000-000000000002', 'trainer');
    expect(tokens.verify(token).role).to.equal('trainer');
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(refusal(() => tokens.verify(token.slice(0, -1) + last))).to.equal('invalid access token');
  });
});
