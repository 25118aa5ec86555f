import { KvWatchInclude, Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { FollowSet, type NatsNames } from '@pulse/contracts';
import type { Logger } from 'pino';

interface Tracked {
  clients: number;
  revision: number;
  /** followee id → name */
  following: Map<string, string>;
}

/**
 * Whom this gateway's trainees follow (issue 16), from the follows KV bucket the API writes: read when a
 * trainee connects, kept current by one watch of the bucket for the whole gateway, so a follow applies from
 * the next rank frame. Only the trainees with a live socket here are kept.
 */
export class FollowSets {
  private readonly tracked = new Map<string, Tracked>();
  private kv: Promise<KV> | null = null;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: NatsNames,
    private readonly log: Logger,
  ) {}

  /** A socket of `userId` is open: load their set (once for all their sockets). Never throws. */
  async track(userId: string): Promise<void> {
    const known = this.tracked.get(userId);
    if (known !== undefined) {
      known.clients += 1;
      return;
    }
    const entry: Tracked = { clients: 1, revision: 0, following: new Map() };
    this.tracked.set(userId, entry);
    try {
      const value = await (await this.bucket()).get(userId);
      if (value !== null) this.apply(userId, value);
    } catch (err) {
      this.log.warn({ err, userId }, 'follows not read: no following board for now');
    }
  }

  untrack(userId: string): void {
    const known = this.tracked.get(userId);
    if (known === undefined) return;
    if (--known.clients <= 0) this.tracked.delete(userId);
  }

  /** Whom `userId` follows (id → name), empty when nobody or unknown. */
  following(userId: string): ReadonlyMap<string, string> {
    return this.tracked.get(userId)?.following ?? EMPTY;
  }

  stop(): void {
    this.stopped = true;
  }

  private bucket(): Promise<KV> {
    this.kv ??= this.open().catch((err: unknown) => {
      this.kv = null;
      throw err;
    });
    return this.kv;
  }

  private async open(): Promise<KV> {
    const kv = await new Kvm(this.nc).open(this.names.followsBucket);
    const watcher = await kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of watcher) {
        if (this.stopped) break;
        if (this.tracked.has(entry.key)) this.apply(entry.key, entry);
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'follows watch ended'));
    return kv;
  }

  private apply(userId: string, entry: KvEntry): void {
    const known = this.tracked.get(userId);
    if (known === undefined || entry.revision <= known.revision) return;
    known.revision = entry.revision;
    if (entry.operation !== 'PUT') {
      known.following = new Map();
      return;
    }
    let parsed;
    try {
      parsed = FollowSet.safeParse(entry.json());
    } catch {
      parsed = undefined;
    }
    if (parsed?.success !== true) {
      this.log.warn({ userId }, 'ignoring a malformed follow set');
      return;
    }
    known.following = new Map(parsed.data.following.map((f) => [f.userId, f.name]));
  }
}

const EMPTY: ReadonlyMap<string, string> = new Map();
