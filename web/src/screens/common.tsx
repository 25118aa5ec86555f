import type { LeaderboardEntry, Session, TopEntry } from '@pulse/sdk';
import { useEffect, useState } from 'preact/hooks';
import { describeError, formatTime } from '../client.js';

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

export function Leaderboard({
  items,
  caption,
  me,
}: {
  items: Array<TopEntry | LeaderboardEntry>;
  caption: string;
  me?: string;
}) {
  return (
    <table data-testid="leaderboard">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Rank</th>
          <th scope="col">Name</th>
          <th scope="col">Score</th>
          {items.some((i) => 'calories' in i) && <th scope="col">Calories</th>}
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr key={i.userId} class={i.userId === me ? 'me' : undefined}>
            <td>{i.rank}</td>
            <td>{i.name}</td>
            <td>{Math.round(i.score * 100) / 100}</td>
            {'calories' in i && <td>{Math.round(i.calories)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
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
