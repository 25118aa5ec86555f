import { connect } from 'node:net';
import { expect } from 'chai';
import { LIVE_PATH } from '@pulse/contracts';
import { NatsWorld, eventually, startGateway, type RunningGateway } from './harness.js';
import { Opcode, RawClient, UPGRADE_HEADERS, wireFrame } from './raw-client.js';
import { WellBehaved } from './well-behaved.js';

/** Each dropped socket comes from its own client address (a trusted proxy names it), capped at one socket. */
let nextAddress = 0;
const anAddress = () => `198.51.100.${++nextAddress}`;

describe('Hostile clients: sockets dropped without a close handshake, or left half-open, hold nothing', () => {
  let world: NatsWorld;
  let gw: RunningGateway;
  let trainee: WellBehaved;

  before(async () => {
    world = await NatsWorld.start();
    gw = await startGateway(world, {
      MAX_SOCKETS_PER_ADDRESS: '1',
      ADDRESS_LIMIT_EXEMPT: '',
      TRUST_PROXY: '1',
    });
    trainee = await WellBehaved.join(world, gw);
  });
  after(async () => {
    trainee.close();
    await gw.gateway.close();
    await world.stop();
  });

  const upgradeFrom = (address: string, query: string, head = Buffer.alloc(0)) =>
    RawClient.send(
      gw,
      Buffer.concat([
        Buffer.from(
          `GET ${LIVE_PATH}?${query} HTTP/1.1\r\nHost: gateway\r\nX-Forwarded-For: ${address}\r\n${UPGRADE_HEADERS}\r\n`,
        ),
        head,
      ]),
    );
  const welcomed = (c: RawClient) => c.textFrames.some((f) => f.type === 'welcome');
  const openSockets = () =>
    new Promise<number>((resolve, reject) =>
      gw.gateway.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
  const gauge = async (metric: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
    (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);

  /** How a hostile client leaves: it gets to `stage`, then drops its TCP connection (with an RST if asked). */
  const STAGES: Array<[string, (address: string) => Promise<RawClient>, boolean?]> = [
    [
      'in the middle of the request line',
      async () => RawClient.send(gw, `GET ${LIVE_PATH}?ticket=${trainee.ticket()}`),
    ],
    ['right after a whole upgrade request', async (a) => upgradeFrom(a, `ticket=${trainee.ticket()}`)],
    [
      'on the 101',
      async (a) => {
        const c = upgradeFrom(a, `ticket=${trainee.ticket()}`);
        await c.until((r) => r.httpHead !== '');
        return c;
      },
    ],
    [
      'after the welcome',
      async (a) => {
        const c = upgradeFrom(a, `ticket=${trainee.ticket()}`);
        await c.until(welcomed);
        return c;
      },
    ],
    [
      'after the welcome, with an RST',
      async (a) => {
        const c = upgradeFrom(a, `ticket=${trainee.ticket()}`);
        await c.until(welcomed);
        return c;
      },
      true,
    ],
    [
      'in the middle of a frame',
      async (a) => {
        const c = upgradeFrom(a, `ticket=${trainee.ticket()}`);
        await c.until(welcomed);
        c.write(wireFrame(Opcode.TEXT, 'x'.repeat(50_000)).subarray(0, 20_000));
        return c;
      },
    ],
    [
      'in the middle of a fragmented message',
      async (a) => {
        const c = upgradeFrom(a, `ticket=${trainee.ticket()}`);
        await c.until(welcomed);
        c.write(wireFrame(Opcode.TEXT, '{"type":', { fin: false }));
        return c;
      },
    ],
    [
      'without answering the 4401 close frame',
      async (a) => {
        const c = upgradeFrom(a, 'ticket=forged');
        await c.until((r) => r.frames.some((f) => f.opcode === Opcode.CLOSE));
        return c;
      },
    ],
  ];

  it('frees every connection, session seat and address slot of sockets dropped at any stage', async () => {
    const addresses: string[] = [];
    for (const [, reach, reset] of STAGES) {
      for (let i = 0; i < 5; i++) {
        const address = anAddress();
        addresses.push(address);
        (await reach(address)).drop(reset === true);
      }
    }
    const { metrics } = gw.gateway;
    await eventually(async () => ((await openSockets()) === 1 ? true : undefined), 10_000);
    expect(await gauge(metrics.connections)).to.equal(1);
    expect(await gauge(metrics.localSessions)).to.equal(1);
    // Each address got its slot back: one socket is welcomed again, a second one is refused.
    for (const address of addresses) {
      const again = upgradeFrom(address, `ticket=${trainee.ticket()}`);
      await again.until(welcomed);
      const second = upgradeFrom(address, `ticket=${trainee.ticket()}`);
      await second.until((r) => r.httpHead !== '');
      expect(second.httpHead, address).to.match(/^HTTP\/1\.1 429 /);
      again.drop();
      second.drop();
    }
    await trainee.rateAndRank();
  });

  it('closes refused upgrades and bad requests whose client keeps its side of the connection open', async () => {
    await eventually(async () => ((await openSockets()) === 1 ? true : undefined));
    const atCap = anAddress();
    const held = upgradeFrom(atCap, `ticket=${trainee.ticket()}`);
    await held.until(welcomed);
    const baseline = 2; // the trainee's socket and this one
    const requests = [
      `GET ${LIVE_PATH}?ticket=x HTTP/1.1\r\nHost: gateway\r\nX-Forwarded-For: ${atCap}\r\n${UPGRADE_HEADERS}\r\n`,
      `GET /nope HTTP/1.1\r\nHost: gateway\r\n${UPGRADE_HEADERS}\r\n`,
      `GET // HTTP/1.1\r\nHost: gateway\r\n${UPGRADE_HEADERS}\r\n`,
      `GET ${LIVE_PATH}?ticket=x HTTP/1.1\r\nHost: gateway\r\nX-Forwarded-For: ${anAddress()}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
      `POST ${LIVE_PATH}?ticket=x HTTP/1.1\r\nHost: gateway\r\nX-Forwarded-For: ${anAddress()}\r\n${UPGRADE_HEADERS}\r\n`,
      'CONNECT 127.0.0.1:4222 HTTP/1.1\r\nHost: 127.0.0.1:4222\r\n\r\n',
      'GARBAGE\r\n\r\n',
    ];
    const clients = requests.flatMap((request) =>
      [1, 2, 3].map(() => {
        // A client that never ends its side: only the gateway can close these connections.
        const socket = connect({
          port: Number(new URL(gw.httpUrl).port),
          host: '127.0.0.1',
          allowHalfOpen: true,
        });
        socket.on('error', () => undefined);
        const answered = new Promise((resolve) => {
          socket.once('data', resolve);
          socket.once('end', resolve);
          socket.once('close', resolve);
        });
        socket.resume();
        socket.write(request);
        return { socket, answered };
      }),
    );
    try {
      await Promise.all(clients.map((c) => c.answered));
      await eventually(async () => ((await openSockets()) === baseline ? true : undefined), 10_000);
    } finally {
      clients.forEach((c) => c.socket.destroy());
      held.drop();
    }
    await trainee.rateAndRank();
  });
});
