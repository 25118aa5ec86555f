import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { LocalStack } from '@pulse/benchmarks';
import { GENERATED_TYPES_PATH, openApiTypes } from '../scripts/openapi-types.js';
import { ErrorCode, PulseApiError, PulseClient } from '../src/index.js';
import { PASSWORD, account, newSession, startStack } from './support/stack.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function rejection(promise: Promise<unknown>): Promise<PulseApiError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(PulseApiError);
    return err as PulseApiError;
  }
  throw new Error('expected a PulseApiError');
}

describe('PulseClient over REST', function () {
  this.timeout(120_000);
  let stack: LocalStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  it('has REST types equal to what openapi-typescript generates from the running API’s /openapi.json', async () => {
    const served = await (await fetch(`${stack.apiUrl}/openapi.json`)).json();
    const committed = await readFile(path.join(packageRoot, GENERATED_TYPES_PATH), 'utf8');
    expect(await openApiTypes(served)).to.equal(committed);
  });

  it('runs the trainer’s lifecycle with typed answers', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Typed');
    expect((await trainer.me()).role).to.equal('trainer');
    const session = await newSession(trainer, 'Typed class');
    expect(session).to.include({ title: 'Typed class', status: 'scheduled', capacity: 50 });
    const later = new Date(Date.now() + 120_000).toISOString();
    expect((await trainer.editSession(session.id, { startsAt: later })).startsAt).to.equal(later);
    expect((await trainer.cancelSession(session.id)).status).to.equal('cancelled');
    const page = await trainer.listSessions({ status: 'cancelled', trainerId: (await trainer.me()).id });
    expect(page.items.map((s) => s.id)).to.deep.equal([session.id]);
  });

  it('reads a live class’s energy as its trainer, typed, and refuses it to anyone else', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Energy');
    const session = await newSession(trainer, 'Energy');
    await trainer.startSession(session.id);
    const energy = await trainer.classEnergy(session.id);
    expect(energy.minutes).to.deep.equal([]);
    expect(energy.distribution.minute).to.equal(null);
    expect(energy.distribution.buckets.map((b) => b.from)).to.deep.equal([
      0, 10, 20, 30, 40, 50, 60, 70, 80, 90,
    ]);
    const other = await account(stack, 'trainer', 'Coach Other');
    expect(await rejection(other.classEnergy(session.id))).to.include({
      code: ErrorCode.FORBIDDEN,
      status: 403,
    });
  });

  it('turns every non-2xx answer into a PulseApiError with the contract’s code, status and details', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Errors');
    const session = await newSession(trainer, 'Errors');
    const notFound = await rejection(trainer.getSession('00000000-0000-4000-8000-000000000000'));
    expect(notFound).to.include({ code: ErrorCode.NOT_FOUND, status: 404 });
    const invalid = await rejection(trainer.endSession(session.id));
    expect(invalid).to.include({ code: ErrorCode.INVALID_STATE, status: 409 });
    expect(invalid.details).to.deep.equal({ state: 'scheduled' });
    const trainee = await account(stack, 'trainee', 'Trainee Errors');
    const { title, type, startsAt, durationMinutes } = session;
    const forbidden = trainee.createSession({ title, type, startsAt, durationMinutes, capacity: 5 });
    expect(await rejection(forbidden)).to.include({
      code: ErrorCode.FORBIDDEN,
      status: 403,
    });
    const login = await rejection(
      new PulseClient({ baseUrl: stack.apiUrl }).login('nobody@x.test', PASSWORD),
    );
    expect(login).to.include({ code: ErrorCode.UNAUTHENTICATED, status: 401 });
  });

  it('carries Retry-After as retryAfter on a 429', async () => {
    const trainee = await account(stack, 'trainee', 'Trainee Limited');
    const email = (await trainee.me()).email;
    const stranger = new PulseClient({ baseUrl: stack.apiUrl });
    const codes: string[] = [];
    let limited: PulseApiError | undefined;
    for (let i = 0; i < 4 && limited === undefined; i++) {
      const err = await rejection(stranger.login(email, 'wrong password!'));
      codes.push(err.code);
      if (err.code === ErrorCode.RATE_LIMITED) limited = err;
    }
    expect(codes).to.deep.equal(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED']);
    expect(limited!.status).to.equal(429);
    expect(limited!.retryAfter).to.be.a('number').greaterThan(0);
    expect(limited!.details).to.deep.equal({ retryAfterSec: limited!.retryAfter });
  });

  it('refreshes once for ten requests failing together with a 401, and the old refresh token is rotated away', async () => {
    const trainee = await account(stack, 'trainee', 'Trainee Refresh');
    const original = trainee.tokens.current!;
    let refreshes = 0;
    const client = new PulseClient({
      baseUrl: stack.apiUrl,
      tokens: { accessToken: 'expired.or.forged', refreshToken: original.refreshToken },
      fetch: (request) => {
        if (new URL(request.url).pathname === '/v1/auth/refresh') refreshes++;
        return fetch(request);
      },
    });
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.me()));
    expect(answers.map((me) => me.name)).to.deep.equal(Array(10).fill('Trainee Refresh'));
    expect(refreshes).to.equal(1);
    const renewed = client.tokens.current!;
    expect(renewed.refreshToken).to.not.equal(original.refreshToken);
    // A stale access token on a later request retries with the current one, without refreshing again.
    expect((await client.me()).name).to.equal('Trainee Refresh');
    expect(refreshes).to.equal(1);
    // The family is intact: the rotated pair keeps working (a second refresh with the old token would revoke it).
    const again = await client.api.POST('/v1/auth/refresh', { body: { refreshToken: renewed.refreshToken } });
    expect(again.response.status).to.equal(200);
  });

  it('signs out when the refresh token is refused too, answering the original 401', async () => {
    let signedOut = false;
    const client = new PulseClient({
      baseUrl: stack.apiUrl,
      tokens: { accessToken: 'bad', refreshToken: 'also-bad' },
      onTokens: (tokens) => (signedOut = tokens === undefined),
    });
    const err = await rejection(client.me());
    expect(err).to.include({ code: ErrorCode.UNAUTHENTICATED, status: 401 });
    expect(client.tokens.current).to.equal(undefined);
    expect(signedOut).to.equal(true);
  });
});
