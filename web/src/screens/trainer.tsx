import type { Session, User } from '@pulse/sdk';
import { useState } from 'preact/hooks';
import { describeError, formatTime, pulse } from '../client.js';
import { SeriesChart } from '../chart.js';
import { go } from '../route.js';
import { ErrorLine, Leaderboard, SessionSummary, usePolling } from './common.js';

const inMinutes = (minutes: number): string => {
  const d = new Date(Date.now() + minutes * 60_000);
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16); // datetime-local
};

export function TrainerHome({ user }: { user: User }) {
  const upcoming = usePolling(() => pulse.listSessions({ trainerId: user.id, limit: 50 }), 5_000);
  const past = usePolling(() => pulse.listSessions({ trainerId: user.id, status: 'ended', limit: 20 }), null);
  const [error, setError] = useState('');
  const create = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    try {
      const session = await pulse.createSession({
        title: String(form.get('title')),
        type: String(form.get('type')),
        startsAt: new Date(String(form.get('startsAt'))).toISOString(),
        durationMinutes: Number(form.get('durationMinutes')),
        capacity: Number(form.get('capacity')),
      });
      go(`session/${session.id}`);
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <>
      <h1>Trainer console</h1>
      <section aria-labelledby="create-heading">
        <h2 id="create-heading">New session</h2>
        <form onSubmit={create} class="grid" data-testid="create-form">
          <label>
            Title <input name="title" required defaultValue="Morning HIIT" />
          </label>
          <label>
            Type <input name="type" required defaultValue="hiit" />
          </label>
          <label>
            Starts at <input name="startsAt" type="datetime-local" required defaultValue={inMinutes(5)} />
          </label>
          <label>
            Minutes{' '}
            <input name="durationMinutes" type="number" min={1} max={240} required defaultValue="30" />
          </label>
          <label>
            Capacity <input name="capacity" type="number" min={1} required defaultValue="100" />
          </label>
          <button type="submit">Create session</button>
        </form>
        <ErrorLine error={error} />
      </section>
      <SessionList title="Upcoming and live" sessions={upcoming.value?.items} />
      <SessionList title="Ended" sessions={past.value?.items} />
    </>
  );
}

function SessionList({ title, sessions }: { title: string; sessions?: Session[] }) {
  return (
    <section>
      <h2>{title}</h2>
      {sessions === undefined ? (
        <p>Loading…</p>
      ) : sessions.length === 0 ? (
        <p>None.</p>
      ) : (
        <ul class="sessions">
          {sessions.map((s) => (
            <li key={s.id}>
              <a href={`#/session/${s.id}`}>{s.title}</a> <span class={`badge ${s.status}`}>{s.status}</span>{' '}
              {formatTime(s.startsAt)} · {s.registeredCount} registered
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function TrainerSession({ id }: { id: string }) {
  const session = usePolling(() => pulse.getSession(id), 3_000, [id]);
  const [error, setError] = useState('');
  const act = (action: (id: string) => Promise<unknown>) => async () => {
    try {
      await action(id);
      session.reload();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const reschedule = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    await act((sid) =>
      pulse.editSession(sid, { startsAt: new Date(String(form.get('startsAt'))).toISOString() }),
    )();
  };
  const s = session.value;
  if (!s) return <ErrorLine error={session.error} />;
  return (
    <>
      <h1>{s.title}</h1>
      <SessionSummary session={s} />
      <ErrorLine error={error || session.error} />
      {s.status === 'scheduled' && (
        <section aria-label="Actions" class="actions">
          <button type="button" onClick={act((sid) => pulse.startSession(sid))}>
            Start now
          </button>
          <button type="button" class="danger" onClick={act((sid) => pulse.cancelSession(sid))}>
            Cancel session
          </button>
          <form onSubmit={reschedule} class="inline-form">
            <label>
              New start <input name="startsAt" type="datetime-local" required defaultValue={inMinutes(10)} />
            </label>
            <button type="submit">Reschedule</button>
          </form>
        </section>
      )}
      {s.status === 'live' && (
        <>
          <section aria-label="Actions" class="actions">
            <button type="button" class="danger" onClick={act((sid) => pulse.endSession(sid))}>
              End session
            </button>
          </section>
          <ClassLive id={id} />
        </>
      )}
      {s.status === 'ended' && <ClassResults id={id} />}
    </>
  );
}

/** The live class as the trainer sees it: participants and top 10 from the live results, every 2 s. */
function ClassLive({ id }: { id: string }) {
  const results = usePolling(() => pulse.results(id, { limit: 100 }), 2_000, [id]);
  const items = results.value?.leaderboard.items ?? [];
  return (
    <section aria-labelledby="live-heading">
      <h2 id="live-heading">Live class</h2>
      <p>
        Participants with a score: <strong data-testid="participants">{items.length}</strong>
      </p>
      <Leaderboard items={items.slice(0, 10)} caption="Top 10" />
      <ClassEnergyCharts id={id} everyMs={3_000} />
    </section>
  );
}

/**
 * The class's energy (GET /v1/sessions/:id/class-energy, owning trainer only): the class average per minute and
 * how the participants spread over energy in the latest minute. Polled while live; read once after the end.
 */
function ClassEnergyCharts({ id, everyMs }: { id: string; everyMs: number | null }) {
  const energy = usePolling(() => pulse.classEnergy(id), everyMs, [id]);
  const e = energy.value;
  if (!e) return <ErrorLine error={energy.error} />;
  const { minute, buckets } = e.distribution;
  return (
    <>
      <h3>Class average energy per minute</h3>
      <SeriesChart
        kind="line"
        label="Class average energy per minute"
        labels={e.minutes.map((m) => `min ${m.minute + 1}`)}
        values={e.minutes.map((m) => Math.round(m.avgEnergy))}
        testId="class-minutes-chart"
      />
      <h3>Energy distribution{minute === null ? '' : ` (minute ${minute + 1})`}</h3>
      <SeriesChart
        kind="bar"
        label="Participants by energy"
        labels={buckets.map((b) => `${b.from}–${b.to}`)}
        values={buckets.map((b) => b.participants)}
        testId="energy-distribution-chart"
      />
      <ErrorLine error={energy.error} />
    </>
  );
}

function ClassResults({ id }: { id: string }) {
  const results = usePolling(() => pulse.results(id, { limit: 100 }), 3_000, [id]);
  const feedback = usePolling(() => pulse.feedback(id, { limit: 20 }), 5_000, [id]);
  return (
    <>
      <section aria-labelledby="results-heading">
        <h2 id="results-heading">Results {results.value && !results.value.final && '(being finalised)'}</h2>
        <Leaderboard items={results.value?.leaderboard.items ?? []} caption="Final ranking" />
        <ClassEnergyCharts id={id} everyMs={null} />
      </section>
      <section aria-labelledby="feedback-heading">
        <h2 id="feedback-heading">Feedback</h2>
        {feedback.value && (
          <>
            <p data-testid="feedback-average">
              Average {feedback.value.average?.toFixed(1) ?? '–'} from {feedback.value.count} trainees
            </p>
            <ul>
              {feedback.value.items.map((f) => (
                <li key={f.id}>
                  {'★'.repeat(f.rating)} {f.comment}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
    </>
  );
}
