import type { User } from '@pulse/sdk';
import { useState } from 'preact/hooks';
import { describeError, pulse } from '../client.js';

export function AuthScreen({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const [mode, setMode] = useState<'signUp' | 'login'>('signUp');
  const [error, setError] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    try {
      const result =
        mode === 'login'
          ? await pulse.login(email, password)
          : await pulse.signUp({
              email,
              password,
              name: String(form.get('name')),
              role: form.get('role') === 'trainer' ? 'trainer' : 'trainee',
            });
      onSignedIn(result.user);
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <main class="narrow">
      <h1>Pulse</h1>
      <p>Live group workouts. {mode === 'signUp' ? 'Create an account.' : 'Sign in.'}</p>
      <form onSubmit={submit} data-testid="auth-form">
        {mode === 'signUp' && (
          <>
            <label>
              Name <input name="name" required autocomplete="name" />
            </label>
            <fieldset>
              <legend>I am a</legend>
              <label class="inline">
                <input type="radio" name="role" value="trainee" checked /> Trainee
              </label>
              <label class="inline">
                <input type="radio" name="role" value="trainer" /> Trainer
              </label>
            </fieldset>
          </>
        )}
        <label>
          Email <input name="email" type="email" required autocomplete="email" />
        </label>
        <label>
          Password{' '}
          <input name="password" type="password" required minLength={8} autocomplete="current-password" />
        </label>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit">{mode === 'signUp' ? 'Sign up' : 'Sign in'}</button>
      </form>
      <button type="button" class="link" onClick={() => setMode(mode === 'signUp' ? 'login' : 'signUp')}>
        {mode === 'signUp' ? 'I have an account: sign in' : 'New here: sign up'}
      </button>
    </main>
  );
}
