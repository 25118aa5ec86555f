import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { findLocalServicePids, servicePidsOf } from '../src/metrics/resources.js';
import { isLoopback, openTarget } from '../src/modes/target.js';
import { waitFor } from '../src/stack/ports.js';

describe('the processes of a target on this machine (npm start measured like a local stack)', () => {
  it('names services by their entry: api, gateway-<n> (primary and workers), engine-<n>, in pid order', () => {
    const node = '/usr/bin/node';
    const named = servicePidsOf([
      { pid: 40, argv: [node, '--enable-source-maps', '/srv/pulse/services/gateway/dist/src/main.js'] },
      { pid: 12, argv: [node, '/srv/pulse/services/api/dist/src/main.js'] },
      { pid: 30, argv: [node, '/srv/pulse/services/gateway/dist/src/main.js'] },
      { pid: 31, argv: [node, 'services/live-engine/dist/src/main.js'] },
      { pid: 50, argv: [node, '/srv/pulse/services/gateway/dist/src/main.js'] },
      { pid: 60, argv: [node, '/srv/pulse/services/api/src/main.ts'] },
      { pid: 61, argv: [node, '/srv/pulse/myservices/api/dist/src/main.js'] },
      { pid: 62, argv: ['nats-server', '-js'] },
    ]);
    expect(named).to.deep.equal({
      api: 12,
      'gateway-1': 30,
      'gateway-2': 40,
      'gateway-3': 50,
      'engine-1': 31,
    });
    expect(
      servicePidsOf([
        { pid: 2, argv: [node, '/a/services/api/dist/src/main.js'] },
        { pid: 1, argv: [node, '/b/services/api/dist/src/main.js'] },
      ]),
    ).to.deep.equal({ 'api-1': 1, 'api-2': 2 });
  });

  it('knows loopback from other hosts', () => {
    for (const url of [
      'http://127.0.0.1:3000',
      'http://localhost:3000',
      'http://[::1]:3000',
      'http://127.1.2.3',
    ])
      expect(isLoopback(url), url).to.equal(true);
    for (const url of ['http://192.0.2.1:3000', 'https://api.pulse.example', 'http://10.0.0.1'])
      expect(isLoopback(url), url).to.equal(false);
  });

  describe('on a real process', () => {
    let dir: string;
    let child: ChildProcess;

    before(async () => {
      // A process with an engine's command line, as `npm start` runs it (it only waits here).
      dir = mkdtempSync(path.join(tmpdir(), 'pulse-target-'));
      const entry = path.join(dir, 'services/live-engine/dist/src/main.js');
      mkdirSync(path.dirname(entry), { recursive: true });
      writeFileSync(entry, 'setInterval(() => undefined, 1000);\n');
      child = spawn(process.execPath, ['--enable-source-maps', entry], { stdio: 'ignore' });
      await waitFor('the process', () =>
        Object.values(findLocalServicePids()).includes(child.pid!) ? true : undefined,
      );
    });
    after(() => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('measures it for a target on loopback, and only the harness for a remote one', async () => {
      const lines: string[] = [];
      const local = await openTarget({ apiUrl: 'http://127.0.0.1:3000', log: (l) => lines.push(l) });
      expect(Object.values(local.pids())).to.include.members([child.pid!, process.pid]);
      expect(lines.join('\n')).to.include(`(${child.pid})`);
      const remote = await openTarget({ apiUrl: 'http://192.0.2.1:3000' });
      expect(remote.pids()).to.deep.equal({ harness: process.pid });
    });
  });
});
