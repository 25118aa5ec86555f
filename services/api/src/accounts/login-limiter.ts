import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { RateLimited, Unavailable } from '../errors.js';

export interface LoginLimits {
  maxPerAccount: number;
  accountWindowSec: number;
  maxPerIp: number;
  ipWindowSec: number;
}

/**
 * Counts login attempts per account (email) and per client IP in Redis, so the limits hold across API
 * replicas. A successful login clears the account counter; the IP counter only expires.
 */
export class LoginLimiter {
  private readonly perAccount: RateLimiterRedis;
  private readonly perIp: RateLimiterRedis;

  constructor(redis: Redis, keyPrefix: string, limits: LoginLimits) {
    this.perAccount = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${keyPrefix}login:account`,
      points: limits.maxPerAccount,
      duration: limits.accountWindowSec,
      rejectIfRedisNotReady: true,
    });
    this.perIp = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${keyPrefix}login:ip`,
      points: limits.maxPerIp,
      duration: limits.ipWindowSec,
      rejectIfRedisNotReady: true,
    });
  }

  /** Counts one attempt; throws RateLimited when either limit is exhausted. */
  async attempt(email: string, ip: string): Promise<void> {
    await Promise.all([consume(this.perIp, ip), consume(this.perAccount, email)]);
  }

  async succeeded(email: string): Promise<void> {
    try {
      await this.perAccount.delete(email);
    } catch (cause) {
      throw new Unavailable('redis', cause);
    }
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
