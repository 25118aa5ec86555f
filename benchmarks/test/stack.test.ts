import { createServer } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect } from 'chai';
import { natsNames } from '@pulse/contracts';
import { LocalStack } from '../src/stack.js';
import { freePorts, waitFor } from '../src/stack/ports.js';

describe('LocalStack', function () {
  this.timeout(120_000);

  // Each leftover KV bucket kept its max_bytes reserved on the shared NATS server, which then refused new
  // streams ("insufficient storage resources available") to every stack on the machine.
  it('gives every service of a stack its own port', async () => {
    const stack = await LocalStack.start({ gateways: 2, engines: 3 });
    try {
      const ports = Object.values(stack.serviceUrls()).map((url) => new URL(url).port);
      expect(ports).to.have.length(6);
      expect(new Set(ports).size).to.equal(6);
    } finally {
      await stack.close();
    }
  });

  it('leaves no stream of its namespace behind on close, KV buckets included', async () => {
    const stack = await LocalStack.start({ gateways: 1, engines: 1 });
    const names = natsNames(stack.isolation.natsNamespace);
    const prefix = names.ratingsStream.replace(/RATINGS$/, '');
    const nc = await connect({ servers: stack.infra.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const streams = async () => {
        const found: string[] = [];
        for await (const name of jsm.streams.names()) {
          if (name.startsWith(prefix) || name.startsWith(`KV_${prefix}`)) found.push(name);
        }
        return found.sort();
      };
      const engines = `KV_${names.enginesBucket}`;
      await waitFor(
        'the engines bucket',
        async () => ((await streams()).includes(engines) ? true : undefined),
        30_000,
      );
      expect(await streams()).to.include.members([names.ratingsStream, names.eventsStream, engines]);
      expect(await stack.close()).to.deep.equal([]);
      expect(await streams()).to.deep.equal([]);
    } finally {
      await nc.close();
    }
  });
});

describe('freePorts', () => {
  it('hands out distinct ports, all free again once it returns', async () => {
    const ports = await freePorts(50);
    expect(new Set(ports).size).to.equal(50);
    for (const port of ports.slice(0, 5)) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
