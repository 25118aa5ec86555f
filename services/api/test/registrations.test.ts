/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { JOIN_TICKET, JoinTicketClaims, ageBandOf } from '@pulse/contracts';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

describe('registrations, waitlist and join', () => {
  let api: TestApi;
  let coach: TestUser;
  before(async () => {
    api = await TestApi.start();
    coach = await api.user('trainer');
  });
  after(() => api.close());

  const register = (sessionId: string, t: TestUser) =>
    api.call('POST', `/v1/sessions/${sessionId}/registrations`, { token: t.token });
  const registrationOf = async (sessionId: string, t: TestUser) =>
    (await api.call('GET', `/v1/sessions/${sessionId}`, { token: t.token })).body.registration;

  it('gives exactly 10 seats and 40 waitlist places to 50 simultaneous registrations for capacity 10', async () => {
    const s = await api.session(coach, { capacity: 10 });
    const trainees = await Promise.all(Array.from({ length: 50 }, () => api.user('trainee')));
    const replies = await Promise.all(trainees.map((t) => register(s.id, t)));
    expect(replies.map((r) => r.status)).to.deep.equal(Array(50).fill(201));
    const statuses = replies.map((r) => r.body.status);
    expect(statuses.filter((x) => x === 'registered')).to.have.length(10);
    expect(statuses.filter((x) => x === 'waitlisted')).to.have.length(40);
    const got = await api.call('GET', `/v1/sessions/${s.id}`, { token: coach.token });
    expect(got.body.registeredCount).to.equal(10);
    expect(got.body.waitlistedCount).to.equal(40);
  });

  it('answers a repeated registration with 200 and the same registration', async () => {
    const s = await api.session(coach);
    const t = await api.user('trainee');
    const first = await register(s.id, t);
    const again = await register(s.id, t);
    expect(first.status).to.equal(201);
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal(first.body);
  });

  it('promotes the first waitlisted trainee when a registered one leaves', async () => {
    const s = await api.session(coach, { capacity: 1 });
    const [a, b, c] = await Promise.all([api.user('trainee'), api.user('trainee'), api.user('trainee')]);
    for (const t of [a, b, c]) await register(s.id, t);
    const out = await api.call('DELETE', `/v1/sessions/${s.id}/registrations/me`, { token: a.token });
    expect(out.status).to.equal(204);
    expect((await registrationOf(s.id, a)).status).to.equal('cancelled');
    expect((await registrationOf(s.id, b)).status).to.equal('registered');
    expect((await registrationOf(s.id, c)).status).to.equal('waitlisted');
    const twice = await api.call('DELETE', `/v1/sessions/${s.id}/registrations/me`, { token: a.token });
    expect(twice.status).to.equal(404);
    const back = await register(s.id, a);
    expect(back.status).to.equal(201);
    expect(back.body.status).to.equal('waitlisted');
  });

  it('refuses registration for ended and cancelled sessions with 409 INVALID_STATE', async () => {
    const t = await api.user('trainee');
    const cancelled = await api.session(coach);
    await api.call('POST', `/v1/sessions/${cancelled.id}/cancel`, { token: coach.token });
    const res = await register(cancelled.id, t);
    expect(res.status).to.equal(409);
    expect(res.body.error).to.include({ code: 'INVALID_STATE' });
    expect(res.body.error.details.state).to.equal('cancelled');
  });

  it('lets a registered trainee join a scheduled session into the waiting room with a valid ticket', async () => {
    const s = await api.session(coach);
    const t = await api.user('trainee', 'Joiner', 82);
    await register(s.id, t);
    const res = await api.call('POST', `/v1/sessions/${s.id}/join`, { token: t.token });
    expect(res.status).to.equal(200);
    expect(res.body.state).to.equal('waiting');
    expect(res.body.gatewayUrl).to.equal('ws://127.0.0.1:8080/v1/live');
    expect(res.body.session.id).to.equal(s.id);
    const claims = jwt.verify(res.body.ticket, api.config.JOIN_TICKET_SECRET, {
      algorithms: [JOIN_TICKET.algorithm],
      issuer: JOIN_TICKET.issuer,
      audience: JOIN_TICKET.audience,
    }) as jwt.JwtPayload;
    const { iat, exp, iss, aud, ...rest } = claims;
    expect(rest).to.deep.equal({
      sub: t.id,
      sid: s.id,
      role: 'trainee',
      name: 'Joiner',
      weightKg: 82,
      startsAt: s.startsAt,
    });
    expect(JoinTicketClaims.parse(rest)).to.deep.equal(rest);
    expect(exp! - iat!).to.equal(api.config.JOIN_TICKET_TTL_SEC);
    expect([iss, aud]).to.deep.equal(['pulse-api', 'pulse-gateway']);
    const joinedAt = (await registrationOf(s.id, t)).joinedAt;
    expect(joinedAt).to.be.a('string');
    await api.call('POST', `/v1/sessions/${s.id}/join`, { token: t.token });
    expect((await registrationOf(s.id, t)).joinedAt).to.equal(joinedAt);
  });

  it('joins a live session as live, with 70 kg in the ticket when the weight is unknown', async () => {
    const s = await api.session(coach);
    const t = await api.user('trainee');
    await register(s.id, t);
    await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    const res = await api.call('POST', `/v1/sessions/${s.id}/join`, { token: t.token });
    expect(res.status).to.equal(200);
    expect(res.body.state).to.equal('live');
    expect((jwt.decode(res.body.ticket) as any).weightKg).to.equal(70);
  });

  it('puts the age band in the ticket only for a trainee who opted in to band boards (issue 16)', async () => {
    const s = await api.session(coach);
    const [opted, private_, noYear] = await Promise.all([
      api.user('trainee'),
      api.user('trainee'),
      api.user('trainee'),
    ]);
    await api.call('PATCH', '/v1/me', { token: opted.token, body: { birthYear: 1990, showOnBoards: true } });
    await api.call('PATCH', '/v1/me', { token: private_.token, body: { birthYear: 1990 } });
    await api.call('PATCH', '/v1/me', { token: noYear.token, body: { showOnBoards: true } });
    const bandOf = async (t: TestUser) => {
      await register(s.id, t);
      const res = await api.call('POST', `/v1/sessions/${s.id}/join`, { token: t.token });
      return (jwt.decode(res.body.ticket) as any).band;
    };
    const year = new Date(s.startsAt).getUTCFullYear();
    expect(await bandOf(opted)).to.equal(ageBandOf(1990, year));
    expect(await bandOf(private_)).to.equal(undefined);
    expect(await bandOf(noYear)).to.equal(undefined);
  });

  it('refuses join with 403 to waitlisted, unregistered and trainer callers, and 409 once ended', async () => {
    const s = await api.session(coach, { capacity: 1 });
    const [seated, waiting, stranger] = await Promise.all([
      api.user('trainee'),
      api.user('trainee'),
      api.user('trainee'),
    ]);
    await register(s.id, seated);
    await register(s.id, waiting);
    for (const who of [waiting, stranger, coach]) {
      const res = await api.call('POST', `/v1/sessions/${s.id}/join`, { token: who.token });
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal('FORBIDDEN');
    }
    await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
    const late = await api.call('POST', `/v1/sessions/${s.id}/join`, { token: seated.token });
    expect(late.status).to.equal(409);
    expect(late.body.error.code).to.equal('INVALID_STATE');
  });

  describe('feedback', () => {
    it('accepts one rating from a trainee who joined an ended session and refuses a second with 409', async () => {
      const s = await api.session(coach);
      const [joined, registeredOnly] = await Promise.all([api.user('trainee'), api.user('trainee')]);
      await register(s.id, joined);
      await register(s.id, registeredOnly);
      await api.call('POST', `/v1/sessions/${s.id}/join`, { token: joined.token });
      const early = await api.call('POST', `/v1/sessions/${s.id}/feedback`, {
        token: joined.token,
        body: { rating: 5 },
      });
      expect(early.status).to.equal(409);
      expect(early.body.error.code).to.equal('INVALID_STATE');
      await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
      await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
      const given = await api.call('POST', `/v1/sessions/${s.id}/feedback`, {
        token: joined.token,
        body: { rating: 4, comment: 'tough' },
      });
      expect(given.status).to.equal(201);
      expect(given.body).to.include({ rating: 4, comment: 'tough', traineeId: joined.id, sessionId: s.id });
      const twice = await api.call('POST', `/v1/sessions/${s.id}/feedback`, {
        token: joined.token,
        body: { rating: 1 },
      });
      expect(twice.status).to.equal(409);
      expect(twice.body.error.code).to.equal('CONFLICT');
      const notJoined = await api.call('POST', `/v1/sessions/${s.id}/feedback`, {
        token: registeredOnly.token,
        body: { rating: 2 },
      });
      expect(notJoined.status).to.equal(403);
      const out = await api.call('POST', `/v1/sessions/${s.id}/feedback`, {
        token: joined.token,
        body: { rating: 6 },
      });
      expect(out.status).to.equal(400);
      const summary = await api.call('GET', `/v1/sessions/${s.id}/feedback`, { token: coach.token });
      expect(summary.status).to.equal(200);
      expect(summary.body.average).to.equal(4);
      expect(summary.body.count).to.equal(1);
      expect(summary.body.items.map((f: any) => f.rating)).to.deep.equal([4]);
      const other = await api.user('trainer');
      expect(
        (await api.call('GET', `/v1/sessions/${s.id}/feedback`, { token: other.token })).status,
      ).to.equal(403);
      expect(
        (await api.call('GET', `/v1/sessions/${s.id}/feedback`, { token: joined.token })).status,
      ).to.equal(403);
    });
  });
});
