/**
 * The per-item ordering gate of the per-call engines: which request or group goes next, so that the calls touching
 * one DynamoDB item go one after another in input order. Plain and synchronous. `GroupGate` serves the transaction
 * engine (a group touches several items); `ItemQueue` (`../itemWrite/queue.ts`) is the same gate for the single-item
 * engine, where every request touches one.
 */

/**
 * Which entry goes next. An entry touching an item that an earlier entry still holds (queued, in a call, waiting to
 * retry) waits until every earlier entry on each of its items is settled, so entries sharing an item go one after
 * another in the order admitted and never conflict with each other. Retries go before fresh entries. An entry holds
 * its items from `admit` until `settled`.
 */
export class OrderGate<E> {
  /** Per item, the live entries on it, in the order admitted: the first may go. */
  private readonly live = new Map<string, E[]>();
  private readonly first: E[] = [];
  private fresh: E[] = [];
  private head = 0;

  /**
   * @param itemsOf The items an entry touches.
   * @param byOrder Input order, for entries released together.
   */
  constructor(
    private readonly itemsOf: (entry: E) => readonly string[],
    private readonly byOrder: (a: E, b: E) => number,
  ) {}

  /** A new entry: `'queued'`, or `'held'` behind an earlier live entry on one of its items. */
  admit(entry: E): 'queued' | 'held' {
    let held = false;
    for (const item of this.itemsOf(entry)) {
      const queue = this.live.get(item);
      if (queue) {
        queue.push(entry);
        held = true;
      } else this.live.set(item, [entry]);
    }
    if (held) return 'held';
    this.fresh.push(entry);
    return 'queued';
  }

  /** An entry whose backoff is over goes again, before fresh ones. */
  again(entry: E): void {
    this.first.push(entry);
  }

  /** The next entry to send, if any. */
  next(): E | undefined {
    if (this.first.length > 0) return this.first.shift();
    if (this.head >= this.fresh.length) return undefined;
    const entry = this.fresh[this.head++];
    if (this.head > 1024 && this.head * 2 > this.fresh.length) {
      this.fresh = this.fresh.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** An entry is settled: it lets go of its items, and the entries first on all of theirs now are queued, in input order. */
  settled(entry: E): void {
    const released: E[] = [];
    for (const item of this.itemsOf(entry)) {
      const queue = this.live.get(item);
      if (!queue || queue[0] !== entry) continue;
      queue.shift();
      if (queue.length === 0) this.live.delete(item);
      else if (this.itemsOf(queue[0]!).every((i) => this.live.get(i)![0] === queue[0])) released.push(queue[0]!);
    }
    for (const e of released.sort(this.byOrder)) if (!this.first.includes(e)) this.first.push(e);
  }

  /** Entries queued (not held, not in a call, not waiting to retry). */
  get queued(): number {
    return this.first.length + this.fresh.length - this.head;
  }
}

/** The gate of the transaction engine: a group holds every item it touches (`table`, NUL, key identity). */
export class GroupGate<E extends { index: number; items: readonly string[] }> extends OrderGate<E> {
  constructor() {
    super(
      (e) => e.items,
      (a, b) => a.index - b.index,
    );
  }
}
