/** NATS subject matching: `*` matches one token, `>` one or more trailing tokens. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** The subjects through which a name from the contracts is used: itself, as a stream, bucket, object store or consumer. */
export function usesOf(name: string, streams: string[]): string[] {
  return [
    name,
    `$JS.API.STREAM.INFO.${name}`,
    `$KV.${name}.key`,
    `$O.${name}.M.key`,
    ...streams.map((stream) => `$JS.API.CONSUMER.INFO.${stream}.${name}`),
  ];
}
