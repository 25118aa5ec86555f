import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The transport floor (issue 12): a bare `ws` server that gives each device what a gateway gives it, with the
 * gateway's frame policy, and nothing of Pulse behind it — no ranking, no bus, no storage, no validation beyond
 * JSON. A `rating` whose seq moved gets a rank-shaped frame at once; a device that got no frame for
 * REFRESH_MS gets its newest frame again (checked every REFRESH_CHECK_MS), as the gateway does for the
 * ≥ 1 frame a second promise; the parts every frame shares (`top`, `at`) are encoded once per SHARED_MS, as the
 * gateway encodes them once per engine snapshot. Its CPU per participant-second is what the frames alone cost
 * on the machine, the figure the live pipeline's cost is read against.
 *
 * With `waiting` after the port the class starts as it does on a gateway: devices are welcomed `waiting`, and a
 * `start` line on stdin sends every device `started`, then, START_FIRST_FRAME_MS later (an engine tick), its first
 * rank frame; a device that rates sooner gets its ranked frame at once.
 *
 * Run as `node transport-floor.js [port] [waiting]`: prints `{"port":n}` once listening; SIGTERM stops it.
 */

const REFRESH_MS = 600;
const REFRESH_CHECK_MS = 50;
const SHARED_MS = 100;
const TOP = 10;
/** After `started`, every device's first rank frame (the engine's first snapshot one tick later). */
const START_FIRST_FRAME_MS = 100;

interface Device {
  readonly ws: WebSocket;
  readonly index: number;
  readonly userId: string;
  scoreCenti: number;
  seq: number;
  /** When the last frame went out (0: none yet). */
  sentAtMs: number;
}

const sessionId = randomUUID();
const startsAt = new Date().toISOString();
const devices: Device[] = [];
let shared = '';
/** Devices wait for `start` on stdin (a class start), or are live from their welcome. */
let live = process.argv[3] !== 'waiting';

function encodeShared(): void {
  const top = devices.slice(0, TOP).map((d, i) => ({
    rank: i + 1,
    userId: d.userId,
    name: `Trainee ${d.index + 1}`,
    score: d.scoreCenti / 100,
  }));
  shared = `,"top":${JSON.stringify(top)},"at":"${new Date().toISOString()}","seq":`;
}

function send(device: Device, nowMs: number): void {
  const frame = `{"type":"rank","rank":${device.index + 1},"participants":${devices.length},"score":${device.scoreCenti / 100}${shared}${device.seq}}`;
  device.sentAtMs = nowMs;
  device.ws.send(frame);
}

function onMessage(device: Device, data: Buffer): void {
  let frame: { type?: unknown; seq?: unknown; energy?: unknown };
  try {
    frame = JSON.parse(data.toString()) as typeof frame;
  } catch {
    return;
  }
  if (frame.type === 'ping') {
    device.ws.send('{"type":"pong"}');
    return;
  }
  if (frame.type !== 'rating' || typeof frame.seq !== 'number' || typeof frame.energy !== 'number') return;
  if (!live) return;
  if (frame.seq <= device.seq) return;
  device.seq = frame.seq;
  device.scoreCenti += Math.round(frame.energy * 100);
  send(device, Date.now());
}

const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 4096 });
wss.on('connection', (ws) => {
  const device: Device = {
    ws,
    index: devices.length,
    userId: randomUUID(),
    scoreCenti: 0,
    seq: 0,
    sentAtMs: 0,
  };
  devices.push(device);
  ws.on('message', (data: Buffer) => onMessage(device, data));
  ws.on('error', () => undefined);
  ws.send(
    JSON.stringify({
      type: 'welcome',
      state: live ? 'live' : 'waiting',
      sessionId,
      startsAt,
      participants: devices.length,
      lastSeq: 0,
    }),
  );
});

/** The class starts: `started` to every device, and a tick later each device's first rank frame. */
function start(): void {
  if (live) return;
  live = true;
  const frame = JSON.stringify({ type: 'started', startedAt: new Date().toISOString() });
  for (const device of devices) device.ws.send(frame);
  setTimeout(() => {
    const nowMs = Date.now();
    for (const device of devices) {
      if (device.sentAtMs === 0 && device.ws.readyState === device.ws.OPEN) send(device, nowMs);
    }
  }, START_FIRST_FRAME_MS);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'start') start();
});

encodeShared();
setInterval(encodeShared, SHARED_MS);
setInterval(() => {
  const nowMs = Date.now();
  for (const device of devices) {
    if (
      device.sentAtMs > 0 &&
      nowMs - device.sentAtMs >= REFRESH_MS &&
      device.ws.readyState === device.ws.OPEN
    )
      send(device, nowMs);
  }
}, REFRESH_CHECK_MS);

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' ? address?.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
