import type { LiveEnd, LiveSession, LiveState, RankFrame, User } from '@pulse/sdk';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, formatTime, pulse } from '../client.js';
import { SeriesChart } from '../chart.js';
import { Countdown, ErrorLine, Leaderboard, SessionSummary, useFollowing, usePolling } from './common.js';

export function TraineeHome() {
  const upcoming = usePolling(() => pulse.listSessions({ limit: 50 }), 5_000);
  return (
    <>
      <h1>Upcoming sessions</h1>
      <ErrorLine error={upcoming.error} />
      {upcoming.value?.items.length === 0 && <p>No session is scheduled.</p>}
      <ul class="sessions">
        {upcoming.value?.items.map((s) => (
          <li key={s.id}>
            <a href={`#/session/${s.id}`}>{s.title}</a> <span class={`badge ${s.status}`}>{s.status}</span>{' '}
            {formatTime(s.startsAt)} · {s.registeredCount}/{s.capacity}
          </li>
        ))}
      </ul>
    </>
  );
}

export function TraineeSession({ id, user }: { id: string; user: User }) {
  const session = usePolling(() => pulse.getSession(id), null, [id]);
  const [joined, setJoined] = useState(false);
  const [error, setError] = useState('');
  const s = session.value;
  if (!s) return <ErrorLine error={session.error} />;
  const registered = s.registration?.status === 'registered';
  const act = (run: () => Promise<unknown>) => async () => {
    try {
      await run();
      session.reload();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <>
      <h1>{s.title}</h1>
      <SessionSummary session={s} />
      <ErrorLine error={error} />
      {s.registration?.status === 'waitlisted' && <p>You are on the waitlist.</p>}
      {(s.status === 'scheduled' || s.status === 'live') && !joined && (
        <section aria-label="Actions" class="actions">
          {!registered && s.registration?.status !== 'waitlisted' && (
            <button type="button" onClick={act(() => pulse.register(id))}>
              Register
            </button>
          )}
          {registered && (
            <>
              <button type="button" onClick={() => setJoined(true)}>
                Join {s.status === 'live' ? 'the class' : 'the waiting room'}
              </button>
              {s.status === 'scheduled' && (
                <button type="button" class="danger" onClick={act(() => pulse.unregister(id))}>
                  Unregister
                </button>
              )}
            </>
          )}
        </section>
      )}
      {joined && s.status !== 'ended' && (
        <LiveView id={id} user={user} onChange={() => session.reload()} onEnd={() => session.reload()} />
      )}
      {s.status === 'ended' && <MyResults id={id} user={user} />}
      {s.status === 'cancelled' && <p>This session was cancelled.</p>}
    </>
  );
}

const STATE_TEXT: Record<LiveState, string> = {
  idle: 'Starting…',
  connecting: 'Connecting…',
  waiting: 'In the waiting room',
  live: 'Live',
  reconnecting: 'Connection lost: reconnecting…',
  ended: 'The session has ended',
  cancelled: 'The session was cancelled',
  replaced: 'You joined from another device',
  closed: 'Left',
  failed: 'Could not join',
};

interface LiveViewProps {
  id: string;
  user: User;
  /** The session moved (started, rescheduled): its summary is stale. */
  onChange: () => void;
  onEnd: (end: LiveEnd) => void;
}

function LiveView({ id, user, onChange, onEnd }: LiveViewProps) {
  const live = useRef<LiveSession | null>(null);
  const [state, setState] = useState<LiveState>('idle');
  const [waiting, setWaiting] = useState<{ startsAt: string; participants: number } | null>(null);
  const [rank, setRank] = useState<RankFrame | null>(null);
  const [energy, setEnergy] = useState(60);
  const [device, setDevice] = useState(false);
  const [sent, setSent] = useState(0);
  const [error, setError] = useState('');
  const follow = useFollowing();
  useEffect(() => {
    const session = pulse.live(id);
    live.current = session;
    session.on('state', (s) => setState(s.state));
    session.on('welcome', (f) => setWaiting({ startsAt: f.startsAt, participants: f.participants }));
    session.on('waiting', (f) => setWaiting({ startsAt: f.startsAt, participants: f.participants }));
    session.on('rescheduled', (f) =>
      setWaiting((w) => ({ participants: w?.participants ?? 0, startsAt: f.startsAt })),
    );
    session.on('rank', setRank);
    session.on('started', onChange);
    session.on('rescheduled', onChange);
    session.on('error', (f) => f.code !== 'RATE_LIMITED' && setError(`${f.message} (${f.code})`));
    session.start().catch((err) => setError(describeError(err)));
    void session.done.then(onEnd);
    return () => session.close();
  }, [id]);
  useEffect(() => {
    if (!device || state !== 'live') return;
    // Device mode: one reading a second around the slider's value, like a wearable.
    const timer = setInterval(() => {
      const reading = Math.max(0, Math.min(100, Math.round(energy + (Math.random() - 0.5) * 20)));
      live.current?.rate(reading);
      setSent((n) => n + 1);
    }, 1_000);
    return () => clearInterval(timer);
  }, [device, state, energy]);
  const send = () => {
    live.current?.rate(energy);
    setSent((n) => n + 1);
  };
  return (
    <section aria-labelledby="live-heading" class={`live ${state}`}>
      <h2 id="live-heading">Live</h2>
      <p role="status" class={`state ${state}`} data-testid="live-state" data-state={state}>
        {STATE_TEXT[state]}
      </p>
      <ErrorLine error={error} />
      {state === 'waiting' && waiting && (
        <p data-testid="waiting-room">
          Starts <Countdown iso={waiting.startsAt} /> ·{' '}
          <span data-testid="waiting-count">{waiting.participants}</span> waiting
        </p>
      )}
      {(state === 'live' || state === 'reconnecting') && (
        <>
          <dl class="stats">
            <div>
              <dt>Rank</dt>
              <dd data-testid="my-rank">{rank ? `${rank.rank} / ${rank.participants}` : '–'}</dd>
            </div>
            <div>
              <dt>Score</dt>
              <dd data-testid="my-score">{rank ? Math.round(rank.score * 100) / 100 : 0}</dd>
            </div>
            <div>
              <dt>Readings sent</dt>
              <dd data-testid="sent">{sent}</dd>
            </div>
            {rank?.band && (
              <div>
                <dt>Age band {rank.band.id}</dt>
                <dd data-testid="band-rank">{`${rank.band.rank} / ${rank.band.participants}`}</dd>
              </div>
            )}
            {rank?.following && (
              <div>
                <dt>Among people you follow</dt>
                <dd data-testid="following-rank">{`${rank.following.rank} / ${rank.following.participants}`}</dd>
              </div>
            )}
            {rank?.best?.atMinute !== undefined && (
              <div>
                <dt>Your best, at this minute</dt>
                <dd data-testid="best-pace">{Math.round(rank.best.atMinute * 100) / 100}</dd>
              </div>
            )}
          </dl>
          <div class="energy">
            <label>
              Energy <output>{energy}</output>
              <input
                type="range"
                min={0}
                max={100}
                value={energy}
                data-testid="energy"
                onInput={(e) => setEnergy((e.target as HTMLInputElement).valueAsNumber)}
              />
            </label>
            <button type="button" onClick={send} data-testid="send">
              Send reading
            </button>
            <label class="inline">
              <input type="checkbox" checked={device} onChange={() => setDevice(!device)} /> Device mode (one
              reading a second)
            </label>
          </div>
          {rank && <Leaderboard items={rank.top} caption="Top 10" me={user.id} follow={follow} />}
        </>
      )}
    </section>
  );
}

function MyResults({ id, user }: { id: string; user: User }) {
  const results = usePolling(() => pulse.results(id, { limit: 10 }), 3_000, [id]);
  const follow = useFollowing();
  const me = results.value?.me;
  return (
    <>
      <section aria-labelledby="results-heading">
        <h2 id="results-heading">
          Your results {results.value && !results.value.final && '(being finalised)'}
        </h2>
        {me ? (
          <dl class="stats">
            <div>
              <dt>Rank</dt>
              <dd data-testid="result-rank">{me.rank}</dd>
            </div>
            <div>
              <dt>Score</dt>
              <dd data-testid="result-score">{me.score}</dd>
            </div>
            <div>
              <dt>Calories</dt>
              <dd data-testid="result-calories">{Math.round(me.calories)}</dd>
            </div>
            <div>
              <dt>Average energy</dt>
              <dd>{Math.round(me.avgEnergy)}</dd>
            </div>
            {me.band && (
              <div>
                <dt>Age band {me.band.id}</dt>
                <dd>{`${me.band.rank} / ${me.band.participants}`}</dd>
              </div>
            )}
            {me.following && (
              <div>
                <dt>Among people you follow</dt>
                <dd>{`${me.following.rank} / ${me.following.participants}`}</dd>
              </div>
            )}
            {me.personalBest && (
              <div>
                <dt>Personal best</dt>
                <dd data-testid="personal-best">New personal best</dd>
              </div>
            )}
          </dl>
        ) : (
          <p>No results for you yet.</p>
        )}
        {me && (
          <>
            <h3>Energy per minute</h3>
            <SeriesChart
              kind="bar"
              label="Average energy per minute"
              labels={me.minutes.map((m) => `min ${m.minute + 1}`)}
              values={me.minutes.map((m) => Math.round(m.avgEnergy))}
              testId="minutes-chart"
            />
          </>
        )}
        <Leaderboard
          items={results.value?.leaderboard.items ?? []}
          caption="Top 10"
          me={user.id}
          follow={follow}
        />
      </section>
      <Feedback id={id} />
    </>
  );
}

function Feedback({ id }: { id: string }) {
  const [done, setDone] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    try {
      await pulse.giveFeedback(id, {
        rating: Number(form.get('rating')),
        comment: String(form.get('comment')) || undefined,
      });
      setDone('Thank you for your feedback.');
    } catch (err) {
      setDone(describeError(err));
    }
  };
  return (
    <section aria-labelledby="feedback-heading">
      <h2 id="feedback-heading">Feedback</h2>
      {done ? (
        <p role="status" data-testid="feedback-done">
          {done}
        </p>
      ) : (
        <form onSubmit={submit} data-testid="feedback-form">
          <label>
            Rating{' '}
            <select name="rating" defaultValue="5">
              {[5, 4, 3, 2, 1].map((r) => (
                <option key={r} value={r}>
                  {r} {'★'.repeat(r)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Comment <textarea name="comment" maxLength={1000} />
          </label>
          <button type="submit">Send feedback</button>
        </form>
      )}
    </section>
  );
}

export function TraineeHistory() {
  const history = usePolling(() => pulse.history({ limit: 20 }), null);
  return (
    <>
      <h1>Your workouts</h1>
      <ErrorLine error={history.error} />
      <table data-testid="history">
        <caption>Past sessions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Session</th>
            <th scope="col">Date</th>
            <th scope="col">Rank</th>
            <th scope="col">Score</th>
            <th scope="col">Calories</th>
          </tr>
        </thead>
        <tbody>
          {history.value?.items.map((h) => (
            <tr key={h.session.id}>
              <td>
                <a href={`#/session/${h.session.id}`}>{h.session.title}</a>
              </td>
              <td>{formatTime(h.session.startsAt)}</td>
              <td>{h.rank === null ? '–' : `${h.rank} / ${h.participants}`}</td>
              <td>{h.score ?? '–'}</td>
              <td>{h.calories === null ? '–' : Math.round(h.calories)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
