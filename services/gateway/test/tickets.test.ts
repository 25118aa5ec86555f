import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { CloseCode, ErrorCode, JOIN_TICKET } from '@pulse/contracts';
import { jetstream } from '@nats-io/jetstream';
import {
  NatsWorld,
  SECRET,
  TestClient,
  sessionSnapshot,
  signTicket,
  startGateway,
  type RunningGateway,
} from './harness.js';

describe('Join tickets at the gateway', () => {
  let world: NatsWorld;
  let gw: RunningGateway;
  const sessionId = randomUUID();

  before(async () => {
    world = await NatsWorld.start();
    gw = await startGateway(world);
  });
  after(async () => {
    await gw.gateway.close();
    await world.stop();
  });

  async function expectRejected(ticket: string | null): Promise<void> {
    const client = TestClient.open(gw, ticket);
    const error = await client.next('error');
    expect(error.code).to.equal(ErrorCode.UNAUTHENTICATED);
    expect((await client.closed).code).to.equal(CloseCode.UNAUTHORIZED);
    expect(client.frames.map((f) => f.type)).to.deep.equal(['error']);
  }

  it('closes with 4401 after an error frame when the ticket is missing', () => expectRejected(null));

  it('closes with 4401 on a ticket that is not a JWT', () => expectRejected('not-a-jwt'));

  it('closes with 4401 on an expired ticket', () =>
    expectRejected(signTicket({ sessionId }, { expiresIn: -10 })));

  it('closes with 4401 on an authentic ticket without an expiry', () => {
    const claims = jwt.decode(signTicket({ sessionId })) as Record<string, unknown>;
    delete claims.exp;
    return expectRejected(jwt.sign(claims, SECRET, { algorithm: JOIN_TICKET.algorithm }));
  });

  it('closes with 4401 on a ticket signed with another secret', () =>
    expectRejected(signTicket({ sessionId }, {}, 'another-secret-another-secret-0123456789')));

  it('closes with 4401 on an unsigned ticket (alg none)', () => {
    const claims = { sub: randomUUID(), sid: sessionId, role: 'trainee', name: 'Ana', weightKg: 70 };
    const unsigned = jwt.sign(
      { ...claims, startsAt: new Date().toISOString(), iss: 'pulse-api', aud: 'pulse-gateway' },
      '',
      { algorithm: 'none' },
    );
    return expectRejected(unsigned);
  });

  it('closes with 4401 on a ticket for another audience', () =>
    expectRejected(signTicket({ sessionId }, { audience: 'pulse-api' })));

  it('closes with 4401 on a ticket from another issuer', () =>
    expectRejected(signTicket({ sessionId }, { issuer: 'someone-else' })));

  it('closes with 4401 on a ticket whose claims are not a trainee join', () => {
    const token = jwt.sign({ sub: 'x', sid: sessionId, role: 'trainer' }, 'irrelevant', {
      algorithm: 'HS256',
    });
    const forged = jwt.sign(jwt.decode(token) as object, 'dev-join-ticket-secret-change-me-0123456789', {
      issuer: 'pulse-api',
      audience: 'pulse-gateway',
    });
    return expectRejected(forged);
  });

  it('welcomes a valid ticket', async () => {
    const client = TestClient.open(gw, signTicket({ sessionId }));
    const welcome = await client.next('welcome');
    expect(welcome.sessionId).to.equal(sessionId);
    client.close();
  });

  describe('once the trainee unregisters (issue 11)', () => {
    const publishRegistration = async (
      sid: string,
      userId: string,
      status: 'registered' | 'unregistered',
    ) => {
      const event = { kind: 'registration', sessionId: sid, userId, status, at: new Date().toISOString() };
      await jetstream(world.nc).publish(world.names.registrationEvent(sid, userId), JSON.stringify(event));
    };

    it('refuses a ticket issued before the trainee unregistered', async () => {
      const userId = randomUUID();
      const ticket = signTicket({ sessionId, userId });
      await publishRegistration(sessionId, userId, 'unregistered');
      await expectRejected(ticket);
    });

    it('closes a connected trainee with 4401 when they unregister, and no one else', async () => {
      const session = sessionSnapshot('live');
      await world.publishEvent(session, 'started');
      const [leaving, staying] = [randomUUID(), randomUUID()];
      const a = TestClient.open(gw, signTicket({ sessionId: session.id, userId: leaving }));
      const b = TestClient.open(gw, signTicket({ sessionId: session.id, userId: staying }));
      await Promise.all([a.next('welcome'), b.next('welcome')]);
      await publishRegistration(session.id, leaving, 'unregistered');
      expect(await a.next('error')).to.include({ code: ErrorCode.UNAUTHENTICATED });
      expect((await a.closed).code).to.equal(CloseCode.UNAUTHORIZED);
      b.send({ type: 'ping' });
      await b.next('pong');
      b.close();
    });

    it('takes a ticket again once the trainee holds a seat again', async () => {
      const userId = randomUUID();
      await publishRegistration(sessionId, userId, 'unregistered');
      await publishRegistration(sessionId, userId, 'registered');
      const client = TestClient.open(gw, signTicket({ sessionId, userId }));
      await client.next('welcome');
      client.close();
    });
  });
});
