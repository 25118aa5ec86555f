import type { Profile, ProfileChange } from '@pulse/sdk';
import { useState } from 'preact/hooks';
import { describeError, formatTime, pulse } from '../client.js';
import { ErrorLine, usePolling } from './common.js';

const GENDERS = ['female', 'male', 'nonbinary'] as const;

/** A number input's value: null when empty (clears the field), a number otherwise. */
function optionalNumber(value: FormDataEntryValue | null): number | null {
  const text = String(value ?? '').trim();
  return text === '' ? null : Number(text);
}

/**
 * The signed-in user's profile (issue 16): name, weight for calories, and what the age-band boards need — a birth
 * year and the choice to appear on them. A trainee also sees whom they follow (and can stop) and who follows them;
 * following starts from the boards of a class (the Follow buttons of its top 10 and of its results).
 */
export function ProfileScreen({ onSaved }: { onSaved: (profile: Profile) => void }) {
  const profile = usePolling(() => pulse.me(), null);
  const [status, setStatus] = useState('');
  const p = profile.value;
  if (!p) return <ErrorLine error={profile.error} />;
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const gender = String(form.get('gender'));
    const change: ProfileChange = {
      name: String(form.get('name')),
      birthYear: optionalNumber(form.get('birthYear')),
      weightKg: optionalNumber(form.get('weightKg')),
      gender: GENDERS.find((g) => g === gender) ?? null,
    };
    if (p.role === 'trainee') change.showOnBoards = form.get('showOnBoards') === 'on';
    try {
      onSaved(await pulse.updateProfile(change));
      setStatus('Saved.');
      profile.reload();
    } catch (err) {
      setStatus(describeError(err));
    }
  };
  return (
    <>
      <h1>Your profile</h1>
      <form onSubmit={submit} data-testid="profile-form" key={p.id}>
        <label>
          Name <input name="name" required defaultValue={p.name} autocomplete="name" />
        </label>
        <div class="grid">
          <label>
            Birth year{' '}
            <input
              name="birthYear"
              type="number"
              min={1900}
              max={new Date().getFullYear()}
              defaultValue={p.birthYear === null ? '' : String(p.birthYear)}
            />
          </label>
          <label>
            Weight (kg){' '}
            <input
              name="weightKg"
              type="number"
              min={20}
              max={400}
              step="0.1"
              defaultValue={p.weightKg === null ? '' : String(p.weightKg)}
            />
          </label>
          <label>
            Gender{' '}
            <select name="gender" defaultValue={p.gender ?? ''}>
              <option value="">not said</option>
              {GENDERS.map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          </label>
        </div>
        {p.role === 'trainee' && (
          <label class="inline">
            <input name="showOnBoards" type="checkbox" defaultChecked={p.showOnBoards} /> Show me on my age
            band&apos;s board in the classes I join (needs a birth year; the year itself is never shown)
          </label>
        )}
        <button type="submit">Save profile</button>
        {status && (
          <p role="status" data-testid="profile-status">
            {status}
          </p>
        )}
      </form>
      {p.role === 'trainee' && <People following={p.followingCount} followers={p.followersCount} />}
    </>
  );
}

function People({ following, followers }: { following: number; followers: number }) {
  const list = usePolling(() => pulse.following({ limit: 100 }), null);
  const fans = usePolling(() => pulse.followers({ limit: 100 }), null);
  const [error, setError] = useState('');
  const unfollow = (userId: string) => async () => {
    try {
      await pulse.unfollow(userId);
      list.reload();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <>
      <section aria-labelledby="following-heading">
        <h2 id="following-heading">You follow ({list.value?.items.length ?? following})</h2>
        <ErrorLine error={error || list.error} />
        {list.value?.items.length === 0 && <p>Nobody yet: follow people from a class&apos;s board.</p>}
        <ul data-testid="following-list">
          {list.value?.items.map((f) => (
            <li key={f.userId}>
              {f.name} <span class="muted">since {formatTime(f.since)}</span>{' '}
              <button
                type="button"
                class="link"
                onClick={unfollow(f.userId)}
                aria-label={`Unfollow ${f.name}`}
              >
                Unfollow
              </button>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="followers-heading">
        <h2 id="followers-heading">Follow you ({fans.value?.items.length ?? followers})</h2>
        <ErrorLine error={fans.error} />
        <ul data-testid="followers-list">
          {fans.value?.items.map((f) => (
            <li key={f.userId}>{f.name}</li>
          ))}
        </ul>
      </section>
    </>
  );
}
