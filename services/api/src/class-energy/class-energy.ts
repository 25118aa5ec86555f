/** Energy is 0..100 (packages/contracts, rating frame); the distribution has ten buckets of this width. */
export const ENERGY_BUCKET_WIDTH = 10;
export const ENERGY_BUCKETS = 100 / ENERGY_BUCKET_WIDTH;

export interface EnergyBucket {
  /** Inclusive lower bound. */
  from: number;
  /** Exclusive upper bound, except the last bucket which includes 100. */
  to: number;
  participants: number;
}

/** The bucket index of an energy value: [0,10) -> 0, ..., [90,100] -> 9. */
export const energyBucketOf = (energy: number): number =>
  Math.min(ENERGY_BUCKETS - 1, Math.max(0, Math.floor(energy / ENERGY_BUCKET_WIDTH)));

/** All ten buckets in order, zero where no participant falls, from `{bucket, participants}` counts. */
export function energyBuckets(counts: readonly { bucket: number; participants: number }[]): EnergyBucket[] {
  const byBucket = new Map<number, number>();
  for (const c of counts) byBucket.set(c.bucket, (byBucket.get(c.bucket) ?? 0) + c.participants);
  return Array.from({ length: ENERGY_BUCKETS }, (_, i) => ({
    from: i * ENERGY_BUCKET_WIDTH,
    to: (i + 1) * ENERGY_BUCKET_WIDTH,
    participants: byBucket.get(i) ?? 0,
  }));
}
