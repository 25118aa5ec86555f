import type { User } from '@pulse/sdk';
import { useEffect, useState } from 'preact/hooks';
import { pulse } from './client.js';
import { go, useRoute } from './route.js';
import { AuthScreen } from './screens/auth.js';
import { ProfileScreen } from './screens/profile.js';
import { TrainerHome, TrainerSession } from './screens/trainer.js';
import { TraineeHistory, TraineeHome, TraineeSession } from './screens/trainee.js';

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    if (pulse.tokens.current === undefined) setUser(null);
    else pulse.me().then(setUser, () => setUser(null));
  }, []);

  if (user === undefined)
    return (
      <main>
        <p>Loading…</p>
      </main>
    );
  if (user === null) return <AuthScreen onSignedIn={setUser} />;
  const signOut = async () => {
    await pulse.logout().catch(() => undefined);
    setUser(null);
    go('');
  };
  const [page, id] = route;
  return (
    <>
      <header>
        <nav aria-label="Main">
          <a href="#/" class="brand">
            Pulse
          </a>
          {user.role === 'trainee' && <a href="#/history">History</a>}
          <a href="#/profile">Profile</a>
          <span class="who" data-testid="who">
            {user.name} ({user.role})
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </nav>
      </header>
      <main>
        {page === 'profile' && <ProfileScreen onSaved={(p) => setUser(p)} />}
        {page !== 'profile' &&
          user.role === 'trainer' &&
          (page === 'session' && id ? <TrainerSession id={id} /> : <TrainerHome user={user} />)}
        {page !== 'profile' &&
          user.role === 'trainee' &&
          (page === 'session' && id ? (
            <TraineeSession id={id} user={user} />
          ) : page === 'history' ? (
            <TraineeHistory />
          ) : (
            <TraineeHome />
          ))}
      </main>
    </>
  );
}
