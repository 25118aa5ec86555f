/**
 * The instants the API accepts from clients: years 0001..9999 in UTC. PostgreSQL's timestamptz would
 * store more (4713 BC..294276 AD) but has no year 0, and JavaScript turns an offset such as
 * `9999-12-31T23:59:59-23:59` into year 10000, which `toISOString()` writes as `+010000-…`. Inside this
 * range every value round-trips through Date, ISO 8601 and PostgreSQL unchanged.
 */
export const EARLIEST_INSTANT_MS = Date.parse('0001-01-01T00:00:00.000Z');
export const LATEST_INSTANT_MS = Date.parse('9999-12-31T23:59:59.999Z');
export const INSTANT_RANGE_MESSAGE = 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z';

/** True when the ISO 8601 string (already checked for syntax) names an instant inside the range. */
export function isStorableInstant(iso: string): boolean {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && ms >= EARLIEST_INSTANT_MS && ms <= LATEST_INSTANT_MS;
}
