/**
 * The per-key gate of one table: which entry is live for each key (queued, waiting to retry, or in a call), and what
 * happens to a later request for the same key. Plain synchronous code; the engine calls it.
 *
 * Writes (`'order'`): a later request replaces a queued one in place (it was not sent: the earlier one counts as
 * written by it); it waits behind one that is in a call or waiting to retry, so that each key ends in the state of
 * its last request. When the earlier one comes back unprocessed, the waiting ones replace it (it was not written
 * either); when it is settled, they go on, merged into one.
 *
 * Reads (`'share'`): a later request for a key that is live gets the same answer; a call never carries a key twice.
 */
import type { Entry } from './entry.js';

/** Replaces `earlier`'s request by `later`'s, in place: `earlier` keeps its place in queues and batches. */
export function supersede<R>(earlier: Entry<R>, later: Entry<R>): void {
  (earlier.merged ??= []).push({ id: earlier.id, request: earlier.request }, ...(later.merged ?? []));
  earlier.id = later.id;
  earlier.request = later.request;
  earlier.values = later.values;
  earlier.json = later.json;
  earlier.bytes = later.bytes;
  earlier.units = later.units;
  earlier.attempts = 0;
}

export class KeyGate<R> {
  private readonly live = new Map<string, Entry<R>>();
  private readonly held = new Map<string, Array<Entry<R>>>();
  private heldCount = 0;

  constructor(private readonly mode: 'order' | 'share') {}

  /** Entries live or held now. */
  get size(): number {
    return this.live.size + this.heldCount;
  }

  /**
   * A new entry: `'new'` (queue it), `'merged'` (it rides on the live entry for its key, which now carries it) or
   * `'held'` (it waits for the live entry to settle).
   */
  admit(entry: Entry<R>): 'new' | 'merged' | 'held' {
    const live = this.live.get(entry.key);
    if (live === undefined) {
      this.live.set(entry.key, entry);
      return 'new';
    }
    if (this.mode === 'share') {
      (live.merged ??= []).push({ id: entry.id, request: entry.request }, ...(entry.merged ?? []));
      return 'merged';
    }
    if (live.state === 'queued') {
      supersede(live, entry);
      return 'merged';
    }
    entry.state = 'held';
    this.heldCount++;
    const waiting = this.held.get(entry.key);
    if (waiting) waiting.push(entry);
    else this.held.set(entry.key, [entry]);
    return 'held';
  }

  /** The live entry came back unprocessed: requests held behind it replace it (it was not written). */
  unprocessed(entry: Entry<R>): void {
    const waiting = this.held.get(entry.key);
    if (!waiting) return;
    this.held.delete(entry.key);
    this.heldCount -= waiting.length;
    for (const later of waiting) supersede(entry, later);
  }

  /** The live entry is settled: the requests held behind it, merged into one, become live (queue it). */
  settled(entry: Entry<R>): Entry<R> | undefined {
    if (this.live.get(entry.key) !== entry) return undefined;
    const waiting = this.held.get(entry.key);
    if (!waiting) {
      this.live.delete(entry.key);
      return undefined;
    }
    this.held.delete(entry.key);
    this.heldCount -= waiting.length;
    const next = waiting[0]!;
    for (const later of waiting.slice(1)) supersede(next, later);
    next.state = 'queued';
    this.live.set(entry.key, next);
    return next;
  }

  /** Every entry held behind another, for handing back when the stream stops. */
  heldEntries(): Array<Entry<R>> {
    return [...this.held.values()].flat();
  }
}
