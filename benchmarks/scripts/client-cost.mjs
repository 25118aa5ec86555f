// The load harness's CPU per socket, alone (issue 15): N devices, each rating once a second, against the stand-in
// gateway (fake-gateway.mjs, its own process); prints this process's CPU (process.cpuUsage) per socket-second
// over the play window. `sdk` = LoadDevice (the SDK's LiveSession, as the harness runs it); `trainee` = the old
// hand-written TraineeConnection the harness used before (the e2e suites keep it as their raw socket).
//   npx tsc -b && node benchmarks/scripts/client-cost.mjs <sdk|trainee> [sockets=2000] [seconds=20]
import { spawn } from 'node:child_process';
import { LoadDevice } from '../dist/src/index.js';

const [kind = 'sdk', sockets = '2000', seconds = '20'] = process.argv.slice(2);
const N = Number(sockets);
const SECONDS = Number(seconds);

const gateway = spawn('node', [new URL('./fake-gateway.mjs', import.meta.url).pathname], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise((resolve) =>
  gateway.stdout.on('data', (d) => {
    const m = /PORT (\d+)/.exec(String(d));
    if (m) resolve(m[1]);
  }),
);
const url = `ws://127.0.0.1:${port}/v1/live`;

/** One device: `tick` produces a rating, `latencies` drains the measured ones, `close` leaves. */
async function device(i) {
  let seq = 0;
  if (kind === 'trainee') {
    const { TraineeConnection } = await import('../dist/src/client/trainee.js');
    const c = new TraineeConnection(url, `ticket-${i}`, { validate: 'light' });
    await c.connect();
    return {
      tick: () => c.open && c.sendRating(++seq, 20 + (seq % 81)),
      latencies: () => c.drainLatencies().length,
      close: () => c.close(),
    };
  }
  const d = new LoadDevice(url, `ticket-${i}`, { validate: 'light' });
  await d.start();
  return {
    tick: () => d.isLive && d.rate(20 + (++seq % 81)),
    latencies: () => d.drainLatencies().length,
    close: () => d.close(),
  };
}

const devices = [];
for (let i = 0; i < N; i++) devices.push(await device(i));
const timers = devices.map((d) =>
  setTimeout(() => {
    d.tick();
    d.interval = setInterval(d.tick, 1000);
  }, Math.random() * 1000),
);
await new Promise((r) => setTimeout(r, 2000));
let measured = 0;
const drain = setInterval(() => devices.forEach((d) => (measured += d.latencies())), 1000);
const before = process.cpuUsage();
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const used = process.cpuUsage(before);
clearInterval(drain);
timers.forEach(clearTimeout);
devices.forEach((d) => clearInterval(d.interval));
const us = used.user + used.system;
console.log(
  `${kind} sockets=${N} seconds=${SECONDS} cpu=${(us / 1e6).toFixed(2)}s ` +
    `perSocketSecond=${Math.round(us / (N * SECONDS))}us latencies=${measured} ` +
    `rssMB=${Math.round(process.memoryUsage().rss / 2 ** 20)}`,
);
await Promise.all(devices.map((d) => d.close()));
gateway.kill();
process.exit(0);
