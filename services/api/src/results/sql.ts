import { z } from 'zod';

const Uuid = z.string().uuid();

/**
 * A UUID literal for ClickHouse SQL. ClickHouse 18.16 has no query parameters, so values are
 * interpolated: only after this check, which admits nothing but hex digits and dashes.
 */
export function sqlUuid(value: string): string {
  const uuid = Uuid.parse(value);
  if (!/^[0-9a-fA-F-]{36}$/.test(uuid)) throw new Error(`not a UUID: ${value}`);
  return `toUUID('${uuid}')`;
}
