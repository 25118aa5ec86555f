import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { CloseCode } from '@pulse/contracts';
import { createLogger } from '@pulse/runtime';
import { NatsWorld, TestClient, signTicket, startGateway, type RunningGateway } from './harness.js';

/** A pino destination that keeps every line. */
class CapturedLog {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join('');
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

describe('gateway logs', () => {
  const log = new CapturedLog();
  let world: NatsWorld;
  let gw: RunningGateway;

  before(async () => {
    world = await NatsWorld.start();
    gw = await startGateway(world, {}, createLogger({ level: 'trace', base: { service: 'gateway' } }, log));
  });
  after(async () => {
    await gw.gateway.close();
    await world.stop();
  });

  it('never write the join ticket, accepted or refused, and tag session lines with sessionId', async () => {
    const sessionId = randomUUID();
    const ticket = signTicket({ sessionId });
    const client = TestClient.open(gw, ticket);
    await client.next('welcome');
    const forged = signTicket({ sessionId }, {}, 'another-secret-another-secret-0123456789');
    const refused = TestClient.open(gw, forged);
    expect((await refused.closed).code).to.equal(CloseCode.UNAUTHORIZED);
    client.close();
    await client.closed;

    for (const secret of [ticket, forged, ticket.split('.')[2], forged.split('.')[2]])
      expect(log.text.includes(secret), 'a ticket in the log').to.equal(false);
    const records = log.records();
    const upgrades = records.filter((r) => r.msg === 'websocket upgrade');
    expect(upgrades.map((r) => r.url)).to.deep.equal([
      '/v1/live?ticket=[redacted]',
      '/v1/live?ticket=[redacted]',
    ]);
    const connected = records.find((r) => r.msg === 'client connected');
    expect(connected?.sessionId).to.equal(sessionId);
  });

  it('never write a ticket whose parameter name is percent-encoded, which the gateway still reads as the ticket', async () => {
    const ticket = signTicket({ sessionId: randomUUID() });
    const client = new TestClient(new WebSocket(`${gw.url.replace(/\?.*$/, '')}?%74icket=${ticket}`));
    await client.next('welcome');
    client.close();
    await client.closed;
    expect(log.text.includes(ticket.split('.')[2]), 'a ticket in the log').to.equal(false);
    expect(log.records().some((r) => r.url === '/v1/live?%74icket=[redacted]')).to.equal(true);
  });
});
