// A new user's drive through `npm start` (not committed): a trainer, two trainees, one class, through the SDK.
import WebSocket from 'ws';
import { PulseClient, PulseApiError } from '@pulse/sdk';
const base = 'http://127.0.0.1:3000';
const tag = Date.now();
const client = () => new PulseClient({ baseUrl: base });
const coach = client();
await coach.signUp({ email: `coach${tag}@example.com`, password: 'correct horse battery', name: 'Coach', role: 'trainer' });
const s = await coach.createSession({ title: 'Drive', type: 'drive', startsAt: new Date(Date.now() + 60_000).toISOString(), durationMinutes: 20, capacity: 10 });
const trainees = [];
for (const name of ['Ana', 'Bo']) {
  const t = client();
  await t.signUp({ email: `${name}${tag}@example.com`, password: 'correct horse battery', name, role: 'trainee' });
  await t.register(s.id);
  const live = t.live(s.id, { webSocket: (url) => new WebSocket(url) });
  const seen = { waiting: 0, ranks: 0 };
  live.on('waiting', () => seen.waiting++);
  live.on('rank', () => seen.ranks++);
  const welcome = await live.start();
  trainees.push({ name, t, live, seen, welcome });
}
console.log('welcomes:', trainees.map((x) => `${x.name} ${x.welcome.state}`).join(', '));
await coach.startSession(s.id);
await new Promise((r) => setTimeout(r, 1500));
for (let i = 0; i < 6; i++) {
  trainees[0].live.rate(80);
  trainees[1].live.rate(50);
  await new Promise((r) => setTimeout(r, 1000));
}
await new Promise((r) => setTimeout(r, 1500));
for (const x of trainees) console.log(x.name, 'rank', x.live.rank?.rank, '/', x.live.rank?.participants, 'score', x.live.rank?.score, 'seq', x.live.rank?.seq);
await coach.endSession(s.id);
for (const x of trainees) {
  const end = await x.live.done;
  console.log(x.name, 'end', end.state, 'lastSeq', end.lastSeq, 'notTaken', end.notTaken?.length);
}
for (const x of trainees) {
  for (;;) {
    try {
      const r = await x.t.results(s.id);
      console.log(x.name, 'results me', JSON.stringify({ rank: r.me?.rank, score: r.me?.score, calories: r.me?.calories, personalBest: r.me?.personalBest, minutes: r.me?.minutes?.length }));
      break;
    } catch (err) {
      if (err instanceof PulseApiError && err.code === 'RESULTS_PENDING') { await new Promise((r) => setTimeout(r, 1000)); continue; }
      throw err;
    }
  }
  const h = await x.t.history();
  console.log(x.name, 'history', h.items.length, h.items[0]?.session.id === s.id);
  const f = await x.t.giveFeedback(s.id, { rating: 5, comment: 'great' });
  console.log(x.name, 'feedback', f.rating);
}
for (const path of ['/app/', '/openapi.json', '/asyncapi.json', '/docs']) console.log(path, (await fetch(base + path)).status);
