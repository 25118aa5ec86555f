/**
 * Joins the ClickHouse writes of all of an engine's partitions into one insert: the writes handed over in one turn
 * of the event loop (the engine's tick flushes every partition in one) go together at its end; writes arriving
 * while an insert is being stored all go together right after it. Each partition
 * keeps its own batcher (its acks, its retries, its lease); this only merges what they hand over at the same time.
 *
 * Why: at the top of the hour 500 classes of 20 end within seconds, and each end flushes its partition's raw rows
 * and results at once. Per partition that was 80-165 inserts a second of a few rows each, and ClickHouse 18.16 spent
 * about half a core creating their parts (its system time), on a box whose API was answering the results stampede
 * (issues 12, 13). Joined, a burst costs one insert per table per insert time.
 *
 * A joined insert that fails fails every write in it; each caller's batcher retries its own rows, which join a
 * later insert. Rows written a little later than handed over keep the version they were made with, so a write of
 * a partition whose lease was lost meanwhile stays below its new owner's.
 */
export class JoinedInserts<T> {
  private next: Array<{ part: T; stored(): void; failed(err: unknown): void }> = [];
  private storing = false;

  /** @param insert stores the parts handed over together, in the order they were handed over */
  constructor(private readonly insert: (parts: T[]) => Promise<void>) {}

  /** Resolves once `part` is stored, together with whatever else was handed over meanwhile. */
  write(part: T): Promise<void> {
    return new Promise((stored, failed) => {
      this.next.push({ part, stored, failed });
      if (!this.storing) {
        this.storing = true;
        setImmediate(() => void this.storeNext());
      }
    });
  }

  private async storeNext(): Promise<void> {
    while (this.next.length > 0) {
      const writes = this.next;
      this.next = [];
      try {
        await this.insert(writes.map((w) => w.part));
        for (const w of writes) w.stored();
      } catch (err) {
        for (const w of writes) w.failed(err);
      }
    }
    this.storing = false;
  }
}
