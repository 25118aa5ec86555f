import { expect } from 'chai';
import {
  natsNames,
  partitionOf,
  RATING_PARTITIONS,
  ratingMsgId,
  streamConfigs,
  LiveMessage,
  RankSnapshot,
  SessionEvent,
  RegistrationEvent,
} from '../src/index.js';

const sid = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const uid = '16fd2706-8baf-433b-82eb-8c7fada847da';

describe('NATS names', () => {
  it('splits ratings by partition, session and user under the namespace', () => {
    const names = natsNames('t1');
    const p = partitionOf(sid);
    expect(names.rating(sid, uid)).to.equal(`t1.ratings.${p}.${sid}.${uid}`);
    expect(names.sessionRatings(sid)).to.equal(`t1.ratings.${p}.${sid}.>`);
    expect(names.partitionRatings(p)).to.equal(`t1.ratings.${p}.>`);
    expect(names.partitionConsumer(p)).to.equal(`engine-p${p}`);
    expect(names.participant(sid, uid)).to.equal(`t1.ratings.${p}.${sid}.${uid}.joined`);
    expect(names.ratingsStream).to.equal('T1_RATINGS');
    expect(names.sessionEvent(sid)).to.equal(`t1.sessions.events.${sid}`);
    expect(names.registrationEvent(sid, uid)).to.equal(`t1.sessions.registrations.${sid}.${uid}`);
    expect(names.allRegistrationEvents).to.equal('t1.sessions.registrations.>');
  });

  it('keeps registration events out of the lifecycle events filter', () => {
    const names = natsNames('t1');
    const lifecycle = names.allSessionEvents.slice(0, -1);
    expect(names.registrationEvent(sid, uid).startsWith(lifecycle)).to.equal(false);
  });

  it('puts a session in a fixed partition and spreads sessions evenly over the partitions', () => {
    // FNV-1a of the id: the same answer on every gateway and engine, in every process and release.
    // FNV-1a("a") = 0xe40c292c; mod 16 = 12.
    expect([partitionOf(sid), partitionOf('a')]).to.deep.equal([3, 12]);
    const counts = new Array<number>(RATING_PARTITIONS).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const id = `${i.toString(16).padStart(8, '0')}-7425-40de-944b-e07fc1f90ae7`;
      const p = partitionOf(id);
      expect(p).to.be.within(0, RATING_PARTITIONS - 1);
      counts[p]++;
    }
    // 1,000 expected per partition; a fair hash stays within a few standard deviations (~31).
    for (const n of counts) expect(n).to.be.within(850, 1150);
  });

  it('names the engines KV bucket after the namespace, with characters a bucket name allows', () => {
    expect(natsNames('t1').enginesBucket).to.equal('T1_ENGINES');
    expect(natsNames('load-test').enginesBucket).to.match(/^[A-Za-z0-9_-]+$/);
    expect(natsNames().enginesBucket).to.equal('PULSE_ENGINES');
  });

  it('names the checkpoints object store after the namespace, with characters a bucket name allows', () => {
    expect(natsNames('t1').checkpointsBucket).to.equal('T1_CHECKPOINTS');
    expect(natsNames('load-test').checkpointsBucket).to.match(/^[A-Za-z0-9_-]+$/);
  });

  it('uses the pulse namespace by default', () => {
    expect(natsNames().allRatings).to.equal('pulse.ratings.>');
  });

  it('refuses a namespace that would break subjects', () => {
    expect(() => natsNames('a.b')).to.throw(/namespace/);
    expect(() => natsNames('')).to.throw(/namespace/);
  });

  it('builds stream configs covering every subject of the namespace', () => {
    const [ratings, events] = streamConfigs(natsNames('t2'));
    expect(ratings.subjects).to.deep.equal(['t2.ratings.>']);
    expect(events.subjects).to.deep.equal(['t2.sessions.events.>', 't2.sessions.registrations.>']);
  });

  it('gives the same message id to a resent rating', () => {
    expect(ratingMsgId(sid, uid, 3)).to.equal(ratingMsgId(sid, uid, 3));
    expect(ratingMsgId(sid, uid, 3)).not.to.equal(ratingMsgId(sid, uid, 4));
  });
});

describe('live messages', () => {
  it('accepts a rating and a participant message', () => {
    expect(
      LiveMessage.parse({ kind: 'rating', sessionId: sid, userId: uid, seq: 1, energy: 50, ts: 1 }).kind,
    ).to.equal('rating');
    const p = { kind: 'participant', sessionId: sid, userId: uid, name: 'Ana', weightKg: 70, ts: 1 };
    expect(LiveMessage.parse(p)).to.deep.equal(p);
  });

  it('accepts a registration event and refuses an unknown status', () => {
    const e = {
      kind: 'registration',
      sessionId: sid,
      userId: uid,
      status: 'unregistered',
      at: '2026-11-29T10:00:00.000Z',
    };
    expect(RegistrationEvent.parse(e)).to.deep.equal(e);
    expect(RegistrationEvent.safeParse({ ...e, status: 'waitlisted' }).success).to.equal(false);
  });

  it('rejects a session event with an unknown type', () => {
    const session = {
      id: sid,
      trainerId: uid,
      title: 'HIIT',
      type: 'hiit',
      status: 'live',
      startsAt: '2026-11-25T10:00:00Z',
      durationMinutes: 30,
      capacity: 10,
      startedAt: null,
      endedAt: null,
      cancelledAt: null,
    };
    const ok = SessionEvent.safeParse({ eventId: uid, type: 'started', at: '2026-11-25T10:00:00Z', session });
    expect(ok.success).to.equal(true);
    const bad = SessionEvent.safeParse({ eventId: uid, type: 'paused', at: '2026-11-25T10:00:00Z', session });
    expect(bad.success).to.equal(false);
  });
});

describe('rank snapshots', () => {
  const base = {
    sessionId: sid,
    tick: 3,
    at: 1_700_000_000_000,
    participants: 2,
    top: [],
    chunk: 0,
    chunks: 1,
    userIds: [uid],
    ranks: [1],
    scores: [12.5],
    seqs: [4],
  };

  it('reads a snapshot without the delta flag as a full one (the flag is additive)', () => {
    const parsed = RankSnapshot.parse(base);
    expect(parsed.delta).to.equal(undefined);
  });

  it('keeps the delta flag of a delta snapshot and refuses a flag that is not a boolean', () => {
    expect(RankSnapshot.parse({ ...base, delta: true }).delta).to.equal(true);
    expect(RankSnapshot.safeParse({ ...base, delta: 'yes' }).success).to.equal(false);
  });
});
