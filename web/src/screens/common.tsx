import type { LeaderboardEntry, Session, TopEntry } from '@pulse/sdk';
import { useEffect, useState } from 'preact/hooks';
import { describeError, formatTime, pulse } from '../client.js';

/** Runs `load` now and every `everyMs` (when given); returns its last value and error. */
export function usePolling<T>(load: () => Promise<T>, everyMs: number | null, deps: unknown[] = []) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    const run = () =>
      load().then(
        (v) => alive && (setValue(v), setError('')),
        (err) => alive && setError(describeError(err)),
      );
    void run();
    const timer = everyMs === null ? undefined : setInterval(run, everyMs);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((t) => t + 1) };
}

export function SessionSummary({ session }: { session: Session }) {
  return (
    <p class="summary">
      <span class={`badge ${session.status}`} data-testid="session-status">
        {session.status}
      </span>{' '}
      {session.type} · {formatTime(session.startsAt)} · {session.durationMinutes} min ·{' '}
      {session.registeredCount}/{session.capacity} registered
    </p>
  );
}

/** Whom the signed-in trainee follows, and a way to change it (issue 16): the Follow buttons of a board. */
export interface FollowControl {
  ids: ReadonlySet<string>;
  error: string;
  toggle(userId: string): void;
}

/** The trainee's follows (their first 100, newest first), kept in step with the buttons that change them. */
export function useFollowing(): FollowControl {
  const [ids, setIds] = useState<ReadonlySet<string>>(new Set());
  const [error, setError] = useState('');
  useEffect(() => {
    pulse.following({ limit: 100 }).then(
      (page) => setIds(new Set(page.items.map((f) => f.userId))),
      (err) => setError(describeError(err)),
    );
  }, []);
  const toggle = (userId: string) => {
    const following = ids.has(userId);
    (following ? pulse.unfollow(userId) : pulse.follow(userId)).then(
      () => {
        setError('');
        setIds((now) => {
          const next = new Set(now);
          if (following) next.delete(userId);
          else next.add(userId);
          return next;
        });
      },
      (err) => setError(describeError(err)),
    );
  };
  return { ids, error, toggle };
}

export function Leaderboard({
  items,
  caption,
  me,
  follow,
}: {
  items: Array<TopEntry | LeaderboardEntry>;
  caption: string;
  me?: string;
  /** A trainee's board: a Follow button beside everyone else. */
  follow?: FollowControl;
}) {
  return (
    <>
      {follow && <ErrorLine error={follow.error} />}
      <table data-testid="leaderboard">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Rank</th>
            <th scope="col">Name</th>
            <th scope="col">Score</th>
            {items.some((i) => 'calories' in i) && <th scope="col">Calories</th>}
            {follow && <th scope="col">Follow</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.userId} class={i.userId === me ? 'me' : undefined}>
              <td>{i.rank}</td>
              <td>{i.name}</td>
              <td>{Math.round(i.score * 100) / 100}</td>
              {'calories' in i && <td>{Math.round(i.calories)}</td>}
              {follow && (
                <td>
                  {i.userId !== me && (
                    <button
                      type="button"
                      class="small"
                      aria-pressed={follow.ids.has(i.userId)}
                      aria-label={`Follow ${i.name}`}
                      onClick={() => follow.toggle(i.userId)}
                    >
                      Follow
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function ErrorLine({ error }: { error: string }) {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}

/** "in 3 min 12 s" until `iso`, ticking every second. */
export function Countdown({ iso }: { iso: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const s = Math.max(0, Math.round((Date.parse(iso) - now) / 1000));
  return (
    <span data-testid="countdown">
      {s === 0 ? 'any moment now' : `in ${Math.floor(s / 60)} min ${s % 60} s`}
    </span>
  );
}
