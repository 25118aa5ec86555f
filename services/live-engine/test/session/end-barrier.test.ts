import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  LastSeqReply,
  ResultsFinal,
  endBarrierMsgId,
  type LastSeqRequest,
  partitionOf,
  type EndBarrierMessage,
  type PresenceBeat,
  type RatingMessage,
} from '@pulse/contracts';
import { pino } from 'pino';
import { buildEngine, type Engine } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { GatewayPresence, barrierState } from '../../src/session/end-barrier.js';
import { chRows, eventually, openInfra, publishEvent, publishRatings, type Infra } from '../support.js';

describe('End barrier: which gateways an ending session waits for (pure)', () => {
  const sid = 's1';

  it('awaits the gateways whose latest beat held clients, until their barrier or their silence', () => {
    const board = new GatewayPresence(10_000, 3_000);
    board.listening(0);
    board.record(sid, 'gw-a', 5, 4_000);
    board.record(sid, 'gw-b', 2, 4_000);
    board.record(sid, 'gw-c', 3, 4_000);
    board.record(sid, 'gw-c', 0, 4_500); // its clients left before the end: owes nothing
    expect(board.holding(sid, 5_000)).to.have.members(['gw-a', 'gw-b']);
    expect(barrierState(sid, new Set(['gw-a']), 5_000, 5_000, board, 30_000)).to.deep.equal({
      passed: false,
      awaiting: ['gw-b'],
    });
    expect(barrierState(sid, new Set(['gw-a', 'gw-b']), 5_000, 5_100, board, 30_000)).to.deep.equal({
      passed: true,
      timedOut: false,
      awaiting: [],
    });
    // gw-b falls silent (crashed): no longer awaited 10 s after its last beat.
    expect(barrierState(sid, new Set(['gw-a']), 5_000, 14_000, board, 30_000).passed).to.equal(true);
  });

  it('freezes nothing before the board has settled after a start, and everything at the maximum wait', () => {
    const board = new GatewayPresence(10_000, 3_000);
    expect(barrierState(sid, new Set(), 0, 1_000, board, 30_000).passed).to.equal(false); // not listening yet
    board.listening(1_000);
    expect(barrierState(sid, new Set(), 1_000, 3_999, board, 30_000).passed).to.equal(false);
    expect(barrierState(sid, new Set(), 1_000, 4_000, board, 30_000)).to.deep.equal({
      passed: true,
      timedOut: false,
      awaiting: [],
    });
    board.record(sid, 'gw-stalled', 1, 4_000);
    for (let t = 5_000; t < 31_000; t += 5_000) board.record(sid, 'gw-stalled', 1, t);
    expect(barrierState(sid, new Set(), 1_000, 31_000, board, 30_000)).to.deep.equal({
      passed: true,
      timedOut: true,
      awaiting: ['gw-stalled'],
    });
  });

  it('forgets silent gateways and empty sessions on prune', () => {
    const board = new GatewayPresence(1_000, 0);
    board.listening(0);
    board.record(sid, 'gw-a', 1, 0);
    board.prune(1_000);
    expect(board.holding(sid, 1_000)).to.deep.equal([]);
  });
});

describe('End barrier in the engine (real NATS JetStream and ClickHouse)', () => {
  let infra: Infra;
  let engine: Engine;

  beforeEach(async () => {
    infra = await openInfra();
    const config = loadConfig({
      NATS_NAMESPACE: infra.namespace,
      CLICKHOUSE_DB: infra.db,
      RANK_TICK_MS: '50',
      RESULTS_FLUSH_MS: '300',
      CH_FLUSH_MS: '50',
      GATEWAY_PRESENCE_SETTLE_MS: '200',
      END_BARRIER_MAX_WAIT_MS: '20000',
    });
    engine = buildEngine({ config, nc: infra.nc, clickhouse: infra.ch, log: pino({ level: 'silent' }) });
    await engine.start();
  });
  afterEach(async () => {
    await engine.stop();
    await infra.close();
  });

  const beat = (sessionId: string, gatewayId: string, connected: number) =>
    infra.nc.publish(
      infra.names.presence(sessionId),
      JSON.stringify({ gatewayId, sessionId, connected, at: Date.now() } satisfies PresenceBeat),
    );
  const barrier = (sessionId: string, gatewayId: string) =>
    infra.js.publish(
      infra.names.ratingBarrier(partitionOf(sessionId), gatewayId),
      JSON.stringify({ kind: 'barrier', sessionId, gatewayId, ts: Date.now() } satisfies EndBarrierMessage),
      { msgID: endBarrierMsgId(sessionId, gatewayId) },
    );
  const finalScores = async (sessionId: string) => {
    const rows = await chRows<{ f: number }>(
      infra,
      `SELECT final AS f FROM ${infra.db}.session_results FINAL WHERE session_id = '${sessionId}'`,
    );
    if (rows.length !== 1 || Number(rows[0].f) !== 1) return undefined;
    return chRows<{ user_id: string; score: number }>(
      infra,
      `SELECT user_id, score FROM ${infra.db}.standings FINAL WHERE session_id = '${sessionId}' ORDER BY user_id`,
    );
  };

  it('counts what a holding gateway stores after the end, and freezes only once its barrier is consumed', async () => {
    const sessionId = randomUUID();
    const userId = randomUUID();
    const startedAt = Date.now() - 5_000;
    const rating = (seq: number, energy: number): RatingMessage => ({
      kind: 'rating',
      sessionId,
      userId,
      seq,
      energy,
      ts: startedAt + seq * 1_000,
    });
    await publishEvent(infra, 'started', sessionId, startedAt);
    const beating = setInterval(() => beat(sessionId, 'gw-slow', 1), 100);
    // The API's hint (issue 13): told once the final results are stored, not before.
    const notices: Array<{ notice: ResultsFinal; finalThen: Promise<boolean> }> = [];
    const noticed = infra.nc.subscribe(infra.names.resultsFinal(sessionId), {
      callback: (_err, msg) => {
        notices.push({
          notice: ResultsFinal.parse(msg.json()),
          finalThen: finalScores(sessionId).then((scores) => scores !== undefined),
        });
      },
    });
    try {
      await publishRatings(infra, [rating(1, 40)]);
      await eventually(() => engine.registry.get(sessionId)?.standings.size === 1 || undefined, 10_000);
      await publishEvent(infra, 'ended', sessionId, startedAt);
      await new Promise((r) => setTimeout(r, 1_500));
      // Still waiting for gw-slow, which is still storing what its client sent before the end.
      expect(await finalScores(sessionId)).to.equal(undefined);
      await publishRatings(infra, [rating(2, 35)]);
      await barrier(sessionId, 'gw-slow');
      const scores = await eventually(() => finalScores(sessionId), 15_000, 'final results');
      expect(scores.map((s) => [s.user_id, s.score])).to.deep.equal([[userId, 75]]);
      const [{ n }] = await chRows<{ n: string }>(
        infra,
        `SELECT count() AS n FROM ${infra.db}.ratings FINAL WHERE session_id = '${sessionId}'`,
      );
      expect(Number(n)).to.equal(2);
      // A device reconnecting after the end is told its last counted seq in the frozen results.
      const ask = async (user: string) => {
        const request: LastSeqRequest = { sessionId, userId: user };
        const reply = await infra.nc.request(
          infra.names.lastSeqRequest(partitionOf(sessionId)),
          JSON.stringify(request),
          { timeout: 3_000 },
        );
        return LastSeqReply.parse(reply.json());
      };
      await eventually(() => (engine.registry.get(sessionId) === undefined ? true : undefined), 5_000);
      expect(await ask(userId)).to.deep.equal({ lastSeq: 2, final: true });
      expect(await ask(randomUUID())).to.deep.equal({ lastSeq: 0, final: true });
      expect(notices.map((n) => n.notice)).to.deep.equal([{ sessionId, participants: 1 }]);
      expect(await notices[0].finalThen).to.equal(true);
    } finally {
      clearInterval(beating);
      noticed.unsubscribe();
    }
  });

  it('does not wait for a gateway that fell silent (crashed) or whose clients all left', async () => {
    const sessionId = randomUUID();
    const startedAt = Date.now() - 5_000;
    await publishEvent(infra, 'started', sessionId, startedAt);
    beat(sessionId, 'gw-left', 3);
    beat(sessionId, 'gw-left', 0);
    await publishRatings(infra, [
      { kind: 'rating', sessionId, userId: randomUUID(), seq: 1, energy: 10, ts: startedAt + 1_000 },
    ]);
    await eventually(() => engine.registry.get(sessionId)?.standings.size === 1 || undefined, 10_000);
    await publishEvent(infra, 'ended', sessionId, startedAt);
    await eventually(() => finalScores(sessionId), 10_000, 'final results without any barrier');
  });
});
