import { parseArgs } from 'node:util';

/** "20s", "500ms", "2m" or a plain number of seconds → milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration (try 30s, 500ms, 2m)`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

export function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, got "${text}"`);
  return n;
}

export function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${text}"`);
  return n;
}

/** Every flag of every mode; a mode ignores what it does not use. */
export function parseCli(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      participants: { type: 'string' },
      sessions: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      gateways: { type: 'string' },
      engines: { type: 'string' },
      ramp: { type: 'string' },
      workers: { type: 'string' },
      'resend-every': { type: 'string' },
      'top-of-hour': { type: 'boolean' },
      'end-after': { type: 'string' },
      filters: { type: 'string' },
      client: { type: 'string' },
      'api-url': { type: 'string' },
      'gateway-url': { type: 'string', multiple: true },
      'nats-namespace': { type: 'string' },
      'clickhouse-db': { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      connections: { type: 'string' },
      'seed-sessions': { type: 'string' },
      'seed-history': { type: 'string' },
      sizes: { type: 'string' },
      ratings: { type: 'string' },
      'redis-url': { type: 'string' },
      'no-progress': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
      'service-env': { type: 'string', multiple: true },
      source: { type: 'string' },
      routes: { type: 'string' },
      paced: { type: 'boolean' },
      start: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

export const USAGE = `Usage: npm run bench -- <mode> [flags]

Modes:
  live         trainees over WebSocket: ratings → ranks, latency, throughput, lost/doubled
  api          REST routes with autocannon: p50/p99 and requests/s per route
  leaderboard  the engine's Leaderboard against a Redis sorted set, 1k/10k/100k participants
  soak         sessions in turn for --minutes: RSS and event-loop lag over time (issue 8)
  stampede     every participant asks for its results at once after the end (issue 13)
  floor        the transport floor: the live mode's devices against bare ws servers with the gateway's frame
               policy and nothing behind them; their CPU per participant-second (issue 12)

Common flags:
  --name <name>          report name (default <mode>-<timestamp>); files go to benchmarks/results/<name>.*
  --out <dir>            report folder (default benchmarks/results)
  --api-url <url>        target an existing deployment instead of starting a local stack
  --gateway-url <ws-url> gateway(s) of that deployment (repeatable; default: the join answer's gatewayUrl)
  --nats-namespace, --clickhouse-db   storage names of that deployment (enables lag and lost/doubled checks)
  --no-progress          no live progress line
  --cpu-prof <dir>       local stack: the api, gateways and engines run with node --cpu-prof, profiles written to <dir>
  --service-env <kind>:<NAME>=<value>   local stack: extra env for api|gateway|live-engine|all (repeatable)

live:  --participants 100 (per session) --sessions 1 --rate 1 (ratings/s each) --duration 30s
       --gateways 1 --engines 1 --ramp 5s --workers <auto> --resend-every 0
       --top-of-hour (every session's start request at once, as classes start on the hour; the spread is reported)
       --end-after <duration> (end the sessions this long after the last rating, ranked or not: the end under
       load; each device expects exactly its seqs up to ended.lastSeq, every participant's results are checked)
       --filters <follows> (local stack: personal boards on — every trainee on an age band's board and following
       <follows> others of its session, so every rank frame carries band and following; issue 16)
       --client sdk|bare|both (the devices' client: the SDK, default; the hand-written baseline without
       reconnects, for runs without faults; or both, half the devices each in their own workers, with each
       client's worker CPU per participant-second and their ratio reported, side by side: issue 15)
api:   --duration 10s (per route) --connections 10 --rate 0 (requests/s per route, 0 = as fast as possible)
       --seed-sessions 10000 --participants 20 (trainees in the results session)
       --seed-history 1000 (ended sessions with frozen results per trainee: GET /v1/me/history)
       --routes list,detail,register,join,results,history,login (a comma list: only those routes)
       --paced (with --rate: an open-loop load, one request every 1/rate s, latency from when it was due)
stampede: --source seeded|live (seeded: no engine, the engine's final ClickHouse rows written by the harness)
       --participants 1000 (per session) --sessions 1 --connections 64 --minutes 3 (seeded buckets each)
       live source: the live flags (--rate, --duration 10s, --gateways, --engines, --ramp)
floor: --participants 1000 --rate 1 --duration 20s --ramp 5s --gateways 1 (floor server processes)
       --workers <auto> --client sdk|bare|both
       --start (devices wait, then the class starts as on a gateway: \`started\` to all, a tick later each one's
       first rank frame; without it they are live from their welcome)
leaderboard: --sizes 1000,10000,100000 --ratings 200000 (per size) --redis-url redis://127.0.0.1:6379
`;

type EnvByKind = Partial<Record<'api' | 'gateway' | 'live-engine' | 'all', Record<string, string>>>;

/** `--service-env gateway:PUBLISH_WINDOW=1024` (repeatable) → environment per service kind. */
export function parseServiceEnv(entries: readonly string[] | undefined): EnvByKind {
  const out: EnvByKind = {};
  for (const entry of entries ?? []) {
    const m = /^(api|gateway|live-engine|all):([A-Z0-9_]+)=(.*)$/.exec(entry);
    if (!m)
      throw new Error(`--service-env must be <api|gateway|live-engine|all>:<NAME>=<value>, got "${entry}"`);
    const kind = m[1] as keyof EnvByKind;
    out[kind] = { ...out[kind], [m[2]]: m[3] };
  }
  return out;
}
