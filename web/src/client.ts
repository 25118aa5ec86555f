import { PulseApiError, PulseClient } from '@pulse/sdk';
import type { TokenPair } from '@pulse/sdk';

const TOKENS_KEY = 'pulse.tokens';

function storedTokens(): TokenPair | undefined {
  const raw = sessionStorage.getItem(TOKENS_KEY);
  return raw === null ? undefined : (JSON.parse(raw) as TokenPair);
}

/** The one client of the app: the API is this page's origin; tokens live in sessionStorage (one per tab). */
export const pulse = new PulseClient({
  baseUrl: location.origin,
  tokens: storedTokens(),
  onTokens: (tokens) =>
    tokens === undefined
      ? sessionStorage.removeItem(TOKENS_KEY)
      : sessionStorage.setItem(TOKENS_KEY, JSON.stringify(tokens)),
});

/** A message for people from any error the SDK throws. */
export function describeError(err: unknown): string {
  if (err instanceof PulseApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

export const formatTime = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
