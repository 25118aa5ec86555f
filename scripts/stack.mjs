// `npm start`: runs api, gateway and live-engine in the foreground with prefixed, readable logs.
// Infrastructure is ensured beforehand by scripts/ensure-infra.sh. Ctrl-C stops everything cleanly.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { prettyFactory } from 'pino-pretty';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const services = [
  { name: 'api', entry: 'services/api/dist/src/main.js', color: 36 },
  // One gateway process per core (up to 4) sharing port 8080: one event loop carries a few thousand sockets.
  {
    name: 'gateway',
    entry: 'services/gateway/dist/src/main.js',
    color: 35,
    env: { GATEWAY_PROCESSES: String(Math.min(availableParallelism(), 4)) },
  },
  { name: 'engine', entry: 'services/live-engine/dist/src/main.js', color: 33 },
];
const STOP_GRACE_MS = 10_000;
// On a terminal every line is made readable here, at a cost per line (~30 µs of this process, on the cores
// the services use; the API writes a line per request). Anywhere else (a file, a pipe, a log collector) the
// services write their JSON lines, each naming its `service`, straight to this process's stdout and stderr.
const readable = process.stdout.isTTY === true;
const pretty = prettyFactory({
  colorize: true,
  translateTime: 'HH:MM:ss.l',
  ignore: 'pid,hostname,service',
  singleLine: true,
});

const children = new Map();
let stopping = false;

function prefixLines(stream, name, color, out) {
  const tag = `\x1b[${color}m${name.padEnd(8)}\x1b[0m`;
  createInterface({ input: stream }).on('line', (line) => {
    let text = line;
    if (line.startsWith('{')) {
      try {
        text = pretty(line).trimEnd();
      } catch {
        // not pino JSON: print as is
      }
    }
    out.write(`${tag}| ${text}\n`);
  });
}

for (const svc of services) {
  const child = spawn(process.execPath, ['--enable-source-maps', path.join(root, svc.entry)], {
    cwd: root,
    env: { ...svc.env, ...process.env },
    stdio: readable ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  });
  children.set(svc.name, child);
  if (readable) {
    prefixLines(child.stdout, svc.name, svc.color, process.stdout);
    prefixLines(child.stderr, svc.name, svc.color, process.stderr);
  }
  child.on('exit', (code, signal) => {
    children.delete(svc.name);
    console.log(`[stack] ${svc.name} exited (${signal ?? code})`);
    if (!stopping) stop(code === 0 ? 1 : (code ?? 1));
    else if (children.size === 0) process.exit(process.exitCode ?? 0);
  });
}
console.log(`[stack] started ${services.map((s) => s.name).join(', ')}; Ctrl-C stops them`);

function stop(exitCode = 0) {
  if (stopping) return;
  stopping = true;
  process.exitCode = exitCode;
  console.log('[stack] stopping');
  for (const child of children.values()) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
    process.exit(exitCode || 1);
  }, STOP_GRACE_MS).unref();
  if (children.size === 0) process.exit(exitCode);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
