import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { RateLimited, Unavailable } from '../errors.js';

export interface LoginLimits {
  /** Failed logins of one account from one client address per window. */
  maxPerAccountAddress: number;
  accountAddressWindowSec: number;
  /** Failed logins from one client address, whatever the account. */
  maxPerAddress: number;
  addressWindowSec: number;
  /** Slow backstop: failed logins of one account from every address together. */
  maxPerAccount: number;
  accountWindowSec: number;
  /** Addresses no per-address window applies to (ADDRESS_LIMIT_EXEMPT; the (account, address) one still does). */
  exempt?: (address: string) => boolean;
  /** An address that logged in to an account skips that account's backstop for this long. */
  knownAddressTtlSec: number;
}

/** A key per (account, address): addresses contain no `/`, so the first one splits it unambiguously. */
const pairKey = (email: string, address: string) => `${address}/${email}`;

/**
 * Login brute-force limits in Redis (shared by every API replica), counting failed attempts only:
 *
 * - per (account, client address): what stops guessing, and a stranger's failures lock only their own
 *   address out of that account; a successful login from that address resets it;
 * - per client address, over every account: stops one address from spraying many accounts;
 * - per account over every address (higher, slower): the backstop against a guesser spread over many
 *   addresses. Addresses that logged in to the account recently are exempt from it, so not even a
 *   botnet can lock the owner out from where they usually log in.
 *
 * Each attempt is reserved in every window *before* the password is checked and refunded when it
 * succeeds (or when the check itself fails for another reason): concurrent guesses cannot all slip
 * through between a read and a write, and successful logins never use up a window.
 */
export class LoginLimiter {
  private readonly perPair: RateLimiterRedis;
  private readonly perAddress: RateLimiterRedis;
  private readonly perAccount: RateLimiterRedis;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly limits: LoginLimits,
  ) {
    const limiter = (name: string, points: number, duration: number) =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${keyPrefix}login:${name}`,
        points,
        duration,
        rejectIfRedisNotReady: true,
      });
    this.perPair = limiter('pair', limits.maxPerAccountAddress, limits.accountAddressWindowSec);
    this.perAddress = limiter('address', limits.maxPerAddress, limits.addressWindowSec);
    this.perAccount = limiter('account', limits.maxPerAccount, limits.accountWindowSec);
  }

  /**
   * Runs `check` (the password verification; null = wrong credentials) inside the limits. Throws
   * RateLimited without calling `check` when a window is used up.
   */
  async attempt<T>(email: string, address: string, check: () => Promise<T | null>): Promise<T | null> {
    const reserved = await this.reserve(email, address);
    let result: T | null;
    try {
      result = await check();
    } catch (err) {
      await this.refund(reserved).catch(() => undefined);
      throw err;
    }
    if (result !== null) await this.succeeded(reserved, email, address);
    return result;
  }

  private async reserve(email: string, address: string): Promise<Reservation[]> {
    const reserved: Reservation[] = [];
    if (!this.limits.exempt?.(address)) {
      await consume(this.perAddress, address);
      reserved.push({ limiter: this.perAddress, key: address });
    }
    const pair = pairKey(email, address);
    await consume(this.perPair, pair);
    reserved.push({ limiter: this.perPair, key: pair });
    try {
      await consume(this.perAccount, email);
      reserved.push({ limiter: this.perAccount, key: email });
    } catch (err) {
      if (!(err instanceof RateLimited) || !(await this.known(email, address))) throw err;
    }
    return reserved;
  }

  /** Refunds the attempt, resets the (account, address) window and remembers the address. */
  private async succeeded(reserved: Reservation[], email: string, address: string): Promise<void> {
    try {
      await Promise.all([
        this.refund(reserved.filter((r) => r.limiter !== this.perPair)),
        this.perPair.delete(pairKey(email, address)),
        this.redis.set(this.knownKey(email, address), '1', 'EX', this.limits.knownAddressTtlSec),
      ]);
    } catch (cause) {
      throw new Unavailable('redis', cause);
    }
  }

  private async refund(reserved: Reservation[]): Promise<void> {
    await Promise.all(reserved.map((r) => r.limiter.reward(r.key)));
  }

  private async known(email: string, address: string): Promise<boolean> {
    try {
      return (await this.redis.exists(this.knownKey(email, address))) === 1;
    } catch (cause) {
      throw new Unavailable('redis', cause);
    }
  }

  private knownKey(email: string, address: string): string {
    return `${this.keyPrefix}login:known:${pairKey(email, address)}`;
  }
}

interface Reservation {
  limiter: RateLimiterRedis;
  key: string;
}

/**
 * Registrations per client address: each one costs a full argon2id hash (also for a taken email), so
 * every attempt that passed validation counts, successful or not.
 */
export class RegistrationLimiter {
  private readonly perAddress: RateLimiterRedis;

  private readonly exempt: (address: string) => boolean;

  constructor(
    redis: Redis,
    keyPrefix: string,
    limits: { maxPerAddress: number; windowSec: number; exempt?: (address: string) => boolean },
  ) {
    this.exempt = limits.exempt ?? (() => false);
    this.perAddress = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${keyPrefix}register:address`,
      points: limits.maxPerAddress,
      duration: limits.windowSec,
      rejectIfRedisNotReady: true,
    });
  }

  async attempt(address: string): Promise<void> {
    if (this.exempt(address)) return;
    await consume(this.perAddress, address);
  }
}

async function consume(limiter: RateLimiterRedis, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      throw new RateLimited(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    }
    throw new Unavailable('redis', rejection);
  }
}
