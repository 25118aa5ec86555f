import { randomUUID } from 'node:crypto';
import { Kvm, KvWatchInclude, type KV, type KvWatchEntry } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { NatsNames } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineMetrics } from '../metrics.js';
import type { Ownership, OwnershipListener, ReleaseReason } from '../session/ownership.js';
import { applyStreamSettings } from '@pulse/runtime';
import { rendezvousOwner } from '../session/rendezvous.js';

const MEMBERS = 'members';
const LEASES = 'leases';
/** JetStream's "wrong last sequence" answers: the key moved on (someone else wrote it, or it expired). */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

/** Default byte limit of the engines' bucket (NATS_ENGINES_KV_MAX_BYTES). */
export const DEFAULT_BUCKET_MAX_BYTES = 64 * 1024 * 1024;
/** The duplicate window a KV bucket gets at most (nats.js caps it at two minutes). */
const KV_MAX_DUPLICATE_WINDOW_MS = 120_000;

export interface LeaseOptions {
  readonly engineId: string;
  /** Lifetime of a membership or lease key without renewal (the KV bucket's max age). */
  readonly ttlMs: number;
  /** Replicas of the bucket (NATS_STREAM_REPLICAS: 3 in production, so a NATS node restart keeps leases). */
  readonly replicas?: number;
  /** Byte limit of the bucket (membership keys and one lease per live session are tiny). */
  readonly maxBytes?: number;
  readonly now?: () => number;
}

interface Held {
  revision: number;
  /** Local deadline after which this engine must not process the partition (3/4 TTL after the renew was sent). */
  validUntil: number;
  releasing: boolean;
}

/**
 * Ratings partitions shared by several engines through a JetStream KV bucket whose keys expire after the TTL:
 * - `members.<engineId>`: each engine puts it every TTL/4 (heartbeat); the live members are the keys present;
 * - `leases.<key>` (`leases.p3`): held by the partition's owner, created to acquire and updated with the last
 *   revision to renew (every TTL/4); a failed renew means someone else has it.
 * Each partition's owner is the rendezvous (highest-random-weight) choice over the live members. An engine
 * that is no longer the choice hands the partition over (graceful stop, then deletes its lease); the chosen one
 * creates the lease once free. A dead engine's keys expire after the TTL, then the survivors take its
 * partitions. Keys are opaque here: 16 partitions make 16 leases, whatever the number of sessions.
 */
export class LeaseOwnership implements Ownership {
  private kv: KV | null = null;
  private readonly instance = randomUUID();
  private readonly now: () => number;
  private members = new Set<string>();
  private memberUntil = 0;
  private readonly wanted = new Set<string>();
  private readonly held = new Map<string, Held>();
  private listener: OwnershipListener | null = null;
  private timer: NodeJS.Timeout | null = null;
  private watcher: { stop(): void } | null = null;
  private leaving = false;
  private reconciling = false;
  private reconcileAgain = false;
  private ticking = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: NatsNames,
    private readonly options: LeaseOptions,
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
  }

  get engineId(): string {
    return this.options.engineId;
  }

  get ready(): boolean {
    return !this.leaving && this.now() < this.memberUntil && this.members.has(this.engineId);
  }

  /** The live members as this engine last saw them, sorted. */
  get liveMembers(): string[] {
    return [...this.members].sort();
  }

  /** True while the lease is held and locally valid; past its deadline the lease counts as lost for good. */
  owns(key: string): boolean {
    const h = this.held.get(key);
    if (h === undefined || h.releasing) return false;
    if (this.now() < h.validUntil) return true;
    void this.release(key, h, 'lost');
    return false;
  }

  want(key: string): void {
    if (this.wanted.has(key)) return;
    this.wanted.add(key);
    this.schedule();
  }

  done(key: string): void {
    this.wanted.delete(key);
    const h = this.held.get(key);
    if (h === undefined || h.releasing) return;
    h.releasing = true;
    void this.deleteLease(key, h);
  }

  async start(listener: OwnershipListener): Promise<void> {
    this.listener = listener;
    const replicas = this.options.replicas ?? 1;
    const maxBytes = this.options.maxBytes ?? DEFAULT_BUCKET_MAX_BYTES;
    this.kv = await new Kvm(this.nc).create(this.names.enginesBucket, {
      ttl: this.options.ttlMs,
      history: 1,
      replicas,
      max_bytes: maxBytes,
    });
    await this.applyBucketSettings(replicas, maxBytes);
    await this.heartbeat();
    await this.refreshMembers();
    const watcher = await this.kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
    this.watcher = watcher;
    void (async () => {
      for await (const e of watcher) this.onChange(e);
    })().catch((err: unknown) => this.log.warn({ err }, 'engines KV watch ended'));
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.options.ttlMs / 4)));
    this.log.info(
      { engineId: this.engineId, members: this.liveMembers, ttlMs: this.options.ttlMs },
      'joined the live engines',
    );
  }

  /**
   * Opening an existing bucket keeps the settings it was created with: a changed lease TTL, replica count or
   * byte limit is applied to its stream here, so an operator can change them on a running cluster (issue 14).
   */
  private async applyBucketSettings(replicas: number, maxBytes: number): Promise<void> {
    const status = await this.kv!.status();
    const ttlMs = this.options.ttlMs;
    const differing = await applyStreamSettings(await jetstreamManager(this.nc), status.streamInfo.config, {
      max_age: nanos(ttlMs),
      // JetStream refuses a duplicate window longer than the max age (KV sets it so at create).
      duplicate_window: nanos(Math.min(ttlMs, KV_MAX_DUPLICATE_WINDOW_MS)),
      num_replicas: replicas,
      max_bytes: maxBytes,
    });
    if (Object.keys(differing).length === 0) return;
    this.log.info(
      { ttlMs, replicas, maxBytes, was: { ttlMs: status.ttl, replicas: status.replicas } },
      'engines bucket settings applied',
    );
  }

  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    await this.kv?.delete(this.key(MEMBERS, this.engineId)).catch(() => undefined);
    this.log.info({ engineId: this.engineId }, 'left the live engines');
  }

  async releaseAll(): Promise<void> {
    this.leaving = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.stop();
    this.watcher = null;
    await Promise.all(
      [...this.held].map(([key, h]) => {
        h.releasing = true;
        return this.deleteLease(key, h);
      }),
    );
  }

  private key(kind: string, id: string): string {
    return `${kind}.${id}`;
  }

  private leaseValue(): string {
    return JSON.stringify({ engineId: this.engineId, instance: this.instance });
  }

  /** One period: heartbeat, renew every lease, re-read the members (expired ones drop out), reconcile. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all([...this.held].map(([key, h]) => this.renew(key, h)));
      if (!this.leaving) {
        await this.heartbeat();
        await this.refreshMembers();
      }
      this.schedule();
    } catch (err) {
      this.log.warn({ err }, 'lease tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private async heartbeat(): Promise<void> {
    const sentAt = this.now();
    try {
      await this.kv!.put(this.key(MEMBERS, this.engineId), this.leaseValue());
      this.memberUntil = sentAt + (this.options.ttlMs * 3) / 4;
    } catch (err) {
      this.log.warn({ err }, 'membership heartbeat failed');
    }
  }

  private async refreshMembers(): Promise<void> {
    const keys = await this.kv!.keys(`${MEMBERS}.>`);
    const members = new Set<string>();
    for await (const k of keys) members.add(k.slice(MEMBERS.length + 1));
    const changed = members.size !== this.members.size || [...members].some((m) => !this.members.has(m));
    this.members = members;
    this.metrics.engineMembers.set(members.size);
    if (changed) this.log.info({ members: this.liveMembers }, 'live engine members changed');
  }

  private onChange(e: KvWatchEntry): void {
    if (this.leaving) return;
    const deleted = e.operation === 'DEL' || e.operation === 'PURGE';
    if (e.key.startsWith(`${MEMBERS}.`)) {
      const id = e.key.slice(MEMBERS.length + 1);
      if (deleted === this.members.has(id)) {
        if (deleted) this.members.delete(id);
        else this.members.add(id);
        this.metrics.engineMembers.set(this.members.size);
        this.log.info({ members: this.liveMembers }, 'live engine members changed');
        this.schedule();
      }
    } else if (deleted && e.key.startsWith(`${LEASES}.`)) {
      if (this.wanted.has(e.key.slice(LEASES.length + 1))) this.schedule();
    }
  }

  private async renew(key: string, h: Held): Promise<void> {
    if (h.releasing) return;
    const sentAt = this.now();
    try {
      h.revision = await this.kv!.update(this.key(LEASES, key), this.leaseValue(), h.revision);
      h.validUntil = sentAt + (this.options.ttlMs * 3) / 4;
    } catch (err) {
      if (h.releasing) return;
      if (isWrongLastSequence(err)) return this.release(key, h, 'lost');
      this.log.warn({ err, key }, 'lease renew failed');
      this.owns(key); // past the deadline: lost
    }
  }

  /** Runs `reconcile` once now and once more if asked again meanwhile. */
  private schedule(): void {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return;
    }
    this.reconciling = true;
    void (async () => {
      do {
        this.reconcileAgain = false;
        try {
          await this.reconcile();
        } catch (err) {
          this.log.warn({ err }, 'lease reconcile failed');
        }
      } while (this.reconcileAgain && !this.leaving);
      this.reconciling = false;
    })();
  }

  /** Acquires the wanted partitions this engine is the rendezvous owner of; hands over the others. */
  private async reconcile(): Promise<void> {
    if (this.leaving || this.listener === null) return;
    const member = this.ready;
    for (const key of this.wanted) {
      const owner = rendezvousOwner(key, this.members);
      const h = this.held.get(key);
      if (h !== undefined) {
        if (!h.releasing && owner !== undefined && owner !== this.engineId) {
          void this.release(key, h, 'handover');
        }
      } else if (member && owner === this.engineId) {
        await this.acquire(key);
      }
    }
  }

  private async acquire(key: string): Promise<void> {
    const sentAt = this.now();
    let revision: number;
    try {
      revision = await this.kv!.create(this.key(LEASES, key), this.leaseValue());
    } catch (err) {
      if (!isWrongLastSequence(err)) this.log.warn({ err, key }, 'lease acquire failed');
      return; // held by someone else: retried when it is deleted or expires
    }
    if (this.leaving || !this.wanted.has(key)) {
      await this.kv!.delete(this.key(LEASES, key), { previousSeq: revision }).catch(() => undefined);
      return;
    }
    this.held.set(key, {
      revision,
      validUntil: sentAt + (this.options.ttlMs * 3) / 4,
      releasing: false,
    });
    this.metrics.leaseMoves.inc({ change: 'acquired' });
    this.metrics.ownedPartitions.set(this.countOwned());
    this.log.info({ key, revision }, 'partition lease acquired');
    this.listener!.acquired(key);
  }

  /** Stops the actor (gracefully for a handover), then deletes the lease if it is still this engine's. */
  private async release(key: string, h: Held, reason: ReleaseReason): Promise<void> {
    h.releasing = true;
    this.metrics.leaseMoves.inc({ change: reason === 'handover' ? 'handed_over' : 'lost' });
    this.metrics.ownedPartitions.set(this.countOwned());
    this.log.info({ key, reason }, 'partition lease released');
    try {
      await this.listener?.released(key, reason);
    } catch (err) {
      this.log.warn({ err, key }, 'stopping a released partition failed');
    }
    // Deleted only if unchanged since this engine's last write, so a peer's lease is never touched.
    await this.deleteLease(key, h);
  }

  private async deleteLease(key: string, h: Held): Promise<void> {
    await this.kv
      ?.delete(this.key(LEASES, key), { previousSeq: h.revision })
      .catch((err: unknown) => this.log.debug({ err, key }, 'lease already gone'));
    this.forget(key, h);
  }

  private forget(key: string, h: Held): void {
    if (this.held.get(key) === h) this.held.delete(key);
    this.metrics.ownedPartitions.set(this.countOwned());
    if (!this.leaving && this.wanted.has(key)) this.schedule();
  }

  private countOwned(): number {
    let n = 0;
    for (const h of this.held.values()) if (!h.releasing) n++;
    return n;
  }
}

function isWrongLastSequence(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && WRONG_LAST_SEQUENCE.has(code);
}
