// A stand-in gateway for measuring the client alone (client-cost.mjs starts it as its own process, so its CPU is
// not the client's): a `welcome` (live, lastSeq 0) per socket, then every RANK_MS a rank frame with a full top 10
// counting the highest seq received, and a pong per ping. Prints `PORT <n>` once listening.
import { WebSocketServer } from 'ws';

const RANK_MS = Number(process.env.RANK_MS ?? 500);
const SESSION_ID = '6f1d7c2e-8a4b-4c1d-9e2f-0a1b2c3d4e5f';
const top = JSON.stringify(
  Array.from({ length: 10 }, (_, i) => ({
    rank: i + 1,
    userId: SESSION_ID,
    name: `Rider ${i}`,
    score: 1000 - i,
  })),
);

const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => {
  let seq = 0;
  const welcome = { type: 'welcome', state: 'live', sessionId: SESSION_ID, participants: 2000, lastSeq: 0 };
  ws.send(JSON.stringify({ ...welcome, startsAt: new Date().toISOString() }));
  ws.on('message', (data) => {
    const text = data.toString();
    if (text === '{"type":"ping"}') return ws.send('{"type":"pong"}');
    const m = /"seq":(\d+)/.exec(text);
    if (m) seq = Math.max(seq, Number(m[1]));
  });
  const timer = setInterval(() => {
    const at = new Date().toISOString();
    ws.send(
      `{"type":"rank","rank":5,"participants":2000,"score":${seq * 50},"top":${top},"at":"${at}","seq":${seq}}`,
    );
  }, RANK_MS);
  ws.on('close', () => clearInterval(timer));
});
wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
