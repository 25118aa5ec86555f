#!/usr/bin/env node
import path from 'node:path';
import { REPO_ROOT } from './stack.js';
import {
  USAGE,
  parseCli,
  parseDurationMs,
  parseServiceEnv,
  positiveInt,
  positiveNumber,
} from './cli-args.js';
import { writeReport, type Report } from './report/report.js';
import { runLive } from './modes/live.js';
import { runFloor } from './modes/floor.js';
import { clientChoice } from './client/load-client.js';
import { ROUTE_KEYS, runApiBench } from './modes/api.js';
import { runLeaderboard } from './modes/leaderboard.js';
import { runSoak, takeMinutes } from './modes/soak.js';
import { runStampedeMode } from './modes/stampede-mode.js';
import { STAMPEDE_DEFAULTS } from './modes/stampede.js';
import type { TargetOptions } from './modes/target.js';

const log = (line: string) => console.error(`[bench] ${line}`);

/** `--routes list,history` → the api mode's route keys; every key must be known. */
function parseRoutes(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const keys = text.split(',').map((k) => k.trim());
  const unknown = keys.filter((k) => !(ROUTE_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0)
    throw new Error(`--routes: unknown ${unknown.join(', ')} (${ROUTE_KEYS.join(', ')})`);
  return keys;
}

function targetOptions(values: ReturnType<typeof parseCli>['values']): TargetOptions {
  const isolation =
    values['nats-namespace'] && values['clickhouse-db']
      ? { natsNamespace: values['nats-namespace'], clickhouseDb: values['clickhouse-db'], databaseSchema: '' }
      : undefined;
  return {
    apiUrl: values['api-url'],
    gatewayUrls: values['gateway-url'],
    gateways: positiveInt('gateways', values.gateways, 1),
    engines: positiveInt('engines', values.engines, 1),
    isolation,
    env: parseServiceEnv(values['service-env']),
    nodeArgs: values['cpu-prof']
      ? {
          gateway: ['--cpu-prof', '--cpu-prof-dir', path.resolve(values['cpu-prof'])],
          'live-engine': ['--cpu-prof', '--cpu-prof-dir', path.resolve(values['cpu-prof'])],
          api: ['--cpu-prof', '--cpu-prof-dir', path.resolve(values['cpu-prof'])],
        }
      : undefined,
    log,
    handleInterrupt: true,
  };
}

/** Runs one mode from command-line arguments; returns the written report and whether every check passed. */
export async function main(
  argv: string[],
): Promise<{ report?: Report; ok: boolean; files?: ReturnType<typeof writeReport> }> {
  const { minutes, rest } = takeMinutes(argv);
  const { values, positionals } = parseCli(rest);
  const mode = positionals[0];
  if (values.help || !mode) {
    console.log(USAGE);
    return { ok: !!values.help };
  }
  const name = values.name ?? `${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const command = `npm run bench -- ${argv.join(' ')}`;
  const progress = !values['no-progress'] && process.stdout.isTTY === true;
  let report: Report;
  switch (mode) {
    case 'live':
      report = await runLive({
        ...targetOptions(values),
        name,
        command,
        participants: positiveInt('participants', values.participants, 100),
        sessions: positiveInt('sessions', values.sessions, 1),
        rate: positiveNumber('rate', values.rate, 1),
        durationSec: parseDurationMs(values.duration ?? '30s') / 1000,
        rampMs: parseDurationMs(values.ramp ?? '5s'),
        workers: values.workers === undefined ? undefined : positiveInt('workers', values.workers, 1),
        resendEvery: positiveInt('resend-every', values['resend-every'], 0),
        topOfHour: values['top-of-hour'] === true,
        endAfterSec:
          values['end-after'] === undefined ? undefined : parseDurationMs(values['end-after']) / 1000,
        filters:
          values.filters === undefined ? undefined : { follows: positiveInt('filters', values.filters, 0) },
        client: clientChoice(values.client),
        progress,
      });
      break;
    case 'floor':
      report = await runFloor({
        name,
        command,
        participants: positiveInt('participants', values.participants, 1000),
        rate: positiveNumber('rate', values.rate, 1),
        durationSec: parseDurationMs(values.duration ?? '20s') / 1000,
        rampMs: parseDurationMs(values.ramp ?? '5s'),
        servers: positiveInt('gateways', values.gateways, 1),
        start: values.start === true,
        workers: values.workers === undefined ? undefined : positiveInt('workers', values.workers, 1),
        client: clientChoice(values.client),
        log,
      });
      break;
    case 'stampede': {
      const source = values.source ?? 'seeded';
      if (source !== 'seeded' && source !== 'live') throw new Error('--source is seeded or live');
      report = await runStampedeMode({
        ...targetOptions(values),
        name,
        command,
        source,
        participants: positiveInt('participants', values.participants, 1000),
        sessions: positiveInt('sessions', values.sessions, 1),
        rate: positiveNumber('rate', values.rate, 1),
        durationSec: parseDurationMs(values.duration ?? '10s') / 1000,
        rampMs: parseDurationMs(values.ramp ?? '5s'),
        workers: values.workers === undefined ? undefined : positiveInt('workers', values.workers, 1),
        resendEvery: positiveInt('resend-every', values['resend-every'], 0),
        topOfHour: values['top-of-hour'] === true,
        progress,
        minutes: positiveInt('minutes', minutes, 3),
        stampede: {
          ...STAMPEDE_DEFAULTS,
          connections: positiveInt('connections', values.connections, STAMPEDE_DEFAULTS.connections),
        },
      });
      break;
    }
    case 'api':
      report = await runApiBench({
        ...targetOptions(values),
        name,
        command,
        durationSec: parseDurationMs(values.duration ?? '10s') / 1000,
        connections: positiveInt('connections', values.connections, 10),
        rate: positiveInt('rate', values.rate, 0),
        seedSessions: positiveInt('seed-sessions', values['seed-sessions'], 10_000),
        participants: positiveInt('participants', values.participants, 20),
        seedHistory: positiveInt('seed-history', values['seed-history'], 1000),
        routes: parseRoutes(values.routes),
        paced: values.paced === true,
      });
      break;
    case 'leaderboard':
      report = await runLeaderboard({
        name,
        command,
        sizes: (values.sizes ?? '1000,10000,100000').split(',').map((s) => positiveInt('sizes', s, 0)),
        ratings: positiveInt('ratings', values.ratings, 200_000),
        redisUrl: values['redis-url'] ?? 'redis://127.0.0.1:6379',
        log,
      });
      break;
    case 'soak':
      report = await runSoak({
        ...targetOptions(values),
        name,
        command,
        minutes: positiveNumber('minutes', minutes, 30),
        participants: positiveInt('participants', values.participants, 2000),
        sessions: positiveInt('sessions', values.sessions, 10),
        rate: positiveNumber('rate', values.rate, 1),
      });
      break;
    default:
      throw new Error(`unknown mode "${mode}"\n${USAGE}`);
  }
  const files = writeReport(report, values.out ?? path.join(REPO_ROOT, 'benchmarks/results'));
  for (const c of report.checks) log(`${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
  log(`report: ${files.md} (charts: ${files.html})`);
  return { report, ok: report.checks.every((c) => c.ok), files };
}

const invokedDirectly =
  process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    ({ ok }) => process.exit(ok ? 0 : 1),
    (err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(2);
    },
  );
}
