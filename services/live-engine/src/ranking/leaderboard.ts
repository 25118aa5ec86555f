/**
 * An order-statistic treap: a binary search tree ordered by standing (score descending, then who reached
 * the score first, then userId) whose nodes also carry random heap priorities (keeping it balanced in
 * expectation) and subtree sizes (so a node's rank is the number of nodes before it).
 *
 * Updating one user is O(log n) (remove + insert); a rank is O(log n); one in-order walk gives every rank in
 * O(n). Nothing is ever re-sorted. Scores are integers (centi-points) so that equal sums compare equal.
 */
interface TreapNode<T> {
  readonly userId: string;
  scoreCenti: number;
  reachedOrder: number;
  value: T | undefined;
  priority: number;
  size: number;
  left: TreapNode<T> | null;
  right: TreapNode<T> | null;
}

/** Callback of {@link Leaderboard.forEachInOrder}; `rank` is 1-based and unique. */
export type StandingVisitor<T> = (
  userId: string,
  scoreCenti: number,
  rank: number,
  value: T | undefined,
) => void;

const sizeOf = (n: TreapNode<unknown> | null): number => (n === null ? 0 : n.size);

/** True when standing a comes before standing b. */
function before(a: TreapNode<unknown>, b: TreapNode<unknown>): boolean {
  if (a.scoreCenti !== b.scoreCenti) return a.scoreCenti > b.scoreCenti;
  if (a.reachedOrder !== b.reachedOrder) return a.reachedOrder < b.reachedOrder;
  return a.userId < b.userId;
}

export class Leaderboard<T = undefined> {
  private root: TreapNode<T> | null = null;
  private readonly nodes = new Map<string, TreapNode<T>>();
  private seed: number;

  constructor(seed = 0x9e3779b9) {
    this.seed = seed | 0 || 1;
  }

  /** Number of users on the board. */
  get size(): number {
    return this.nodes.size;
  }

  has(userId: string): boolean {
    return this.nodes.has(userId);
  }

  /**
   * Puts a user at `scoreCenti`; `reachedOrder` is when they reached it (smaller = earlier = ranked higher
   * on ties). `value` rides along to {@link forEachInOrder} so a walk needs no lookups.
   */
  upsert(userId: string, scoreCenti: number, reachedOrder: number, value?: T): void {
    let node = this.nodes.get(userId);
    if (node === undefined) {
      node = {
        userId,
        scoreCenti,
        reachedOrder,
        value,
        priority: this.nextPriority(),
        size: 1,
        left: null,
        right: null,
      };
      this.nodes.set(userId, node);
    } else {
      if (value !== undefined) node.value = value;
      if (node.scoreCenti === scoreCenti && node.reachedOrder === reachedOrder) return;
      this.root = this.detach(this.root, node);
      node.scoreCenti = scoreCenti;
      node.reachedOrder = reachedOrder;
      node.left = node.right = null;
      node.size = 1;
    }
    const [l, r] = this.split(this.root, node);
    this.root = this.merge(this.merge(l, node), r);
  }

  remove(userId: string): boolean {
    const node = this.nodes.get(userId);
    if (node === undefined) return false;
    this.root = this.detach(this.root, node);
    this.nodes.delete(userId);
    return true;
  }

  scoreOf(userId: string): number | undefined {
    return this.nodes.get(userId)?.scoreCenti;
  }

  /** 1-based rank of a user, or 0 when the user is not on the board. */
  rankOf(userId: string): number {
    const target = this.nodes.get(userId);
    if (target === undefined) return 0;
    let rank = 0;
    let cur = this.root;
    while (cur !== null) {
      if (cur === target) return rank + sizeOf(cur.left) + 1;
      if (before(target, cur)) cur = cur.left;
      else {
        rank += sizeOf(cur.left) + 1;
        cur = cur.right;
      }
    }
    throw new Error(`leaderboard corrupted: ${userId} not reachable`);
  }

  /** The first `n` standings, best first. */
  top(n: number): Array<{ userId: string; scoreCenti: number; rank: number; value: T | undefined }> {
    const out: Array<{ userId: string; scoreCenti: number; rank: number; value: T | undefined }> = [];
    this.walk(n, (userId, scoreCenti, rank, value) => out.push({ userId, scoreCenti, rank, value }));
    return out;
  }

  /** Visits every standing best first with its rank: one O(n) walk. */
  forEachInOrder(visit: StandingVisitor<T>): void {
    this.walk(Infinity, visit);
  }

  private walk(limit: number, visit: StandingVisitor<T>): void {
    const stack: TreapNode<T>[] = [];
    let cur = this.root;
    let rank = 0;
    while ((cur !== null || stack.length > 0) && rank < limit) {
      while (cur !== null) {
        stack.push(cur);
        cur = cur.left;
      }
      const node = stack.pop()!;
      visit(node.userId, node.scoreCenti, ++rank, node.value);
      cur = node.right;
    }
  }

  /** Splits `t` into the nodes before `key` and the rest. */
  private split(t: TreapNode<T> | null, key: TreapNode<T>): [TreapNode<T> | null, TreapNode<T> | null] {
    if (t === null) return [null, null];
    if (before(t, key)) {
      const [l, r] = this.split(t.right, key);
      t.right = l;
      t.size = 1 + sizeOf(t.left) + sizeOf(l);
      return [t, r];
    }
    const [l, r] = this.split(t.left, key);
    t.left = r;
    t.size = 1 + sizeOf(r) + sizeOf(t.right);
    return [l, t];
  }

  /** Joins two treaps where every node of `a` comes before every node of `b`. */
  private merge(a: TreapNode<T> | null, b: TreapNode<T> | null): TreapNode<T> | null {
    if (a === null) return b;
    if (b === null) return a;
    if (a.priority > b.priority) {
      a.right = this.merge(a.right, b);
      a.size = 1 + sizeOf(a.left) + sizeOf(a.right);
      return a;
    }
    b.left = this.merge(a, b.left);
    b.size = 1 + sizeOf(b.left) + sizeOf(b.right);
    return b;
  }

  /** Removes `node` (found by its current key) from the subtree `t`. */
  private detach(t: TreapNode<T> | null, node: TreapNode<T>): TreapNode<T> | null {
    if (t === null) throw new Error(`leaderboard corrupted: ${node.userId} not found`);
    if (t === node) return this.merge(t.left, t.right);
    if (before(node, t)) t.left = this.detach(t.left, node);
    else t.right = this.detach(t.right, node);
    t.size -= 1;
    return t;
  }

  /** xorshift32: deterministic priorities keep runs reproducible. */
  private nextPriority(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x;
    return x >>> 0;
  }
}
