/**
 * One table's lane: requests taken and not yet prepared (cheap references, in input order), prepared entries queued
 * for a call, entries waiting to retry, and the per-key gate. It forms the next call — retries that are due first,
 * then queued entries, up to the call's count and byte limits — and says whether it is worth sending now. Plain
 * synchronous code; the engine drives it.
 */
import type { Entry, Taken } from './entry.js';
import { KeyGate } from './keyGate.js';

/** What the engine knows of a table's key before its requests can be prepared. */
export interface LaneSchema {
  attributes: string[];
  types?: Record<string, string>;
}

/** A queue read from its head is cut back once this much of it has been read, and at least half. */
const COMPACT_AT = 1024;

export class Lane<R> {
  /** Taken, not prepared yet: their input order and requests, side by side. */
  private rawIds: number[] = [];
  private raw: Array<R | undefined> = [];
  private rawHead = 0;
  private queued: Array<Entry<R>> = [];
  private queuedHead = 0;
  /** Waiting to retry, soonest first. */
  private retries: Array<Entry<R>> = [];
  readonly gate: KeyGate<R>;
  /** The key schema, once known; `schemaError` when DescribeTable failed. */
  schema: LaneSchema | undefined;
  schemaError: { error: unknown } | undefined;
  describing = false;
  /** Calls of this lane in flight. */
  inFlight = 0;
  /** Calls may go out not full: the source has ended. */
  flush = false;
  /** One call may go out not full: the backpressure link is waiting for what this lane holds. */
  flushOnce = false;
  /** When the oldest entry of the queue was queued (for `maxBatchWaitMs`); retries waiting do not count. */
  firstQueuedAt = 0;

  constructor(
    readonly table: string,
    mode: 'order' | 'share',
  ) {
    this.gate = new KeyGate<R>(mode);
  }

  /** Requests taken and not prepared. */
  get waiting(): number {
    return this.raw.length - this.rawHead;
  }

  /** Entries ready for a call or waiting to retry. */
  get pending(): number {
    return this.queued.length - this.queuedHead + this.retries.length;
  }

  /** Entries ready for a call (not counting those waiting to retry). */
  get queuedCount(): number {
    return this.queued.length - this.queuedHead;
  }

  take(id: number, request: R): void {
    this.rawIds.push(id);
    this.raw.push(request);
  }

  /** The input order of the next request to prepare (call while `waiting > 0`). */
  peekId(): number {
    return this.rawIds[this.rawHead]!;
  }

  /** The next request to prepare, in input order (call while `waiting > 0`). */
  shift(): R {
    const request = this.raw[this.rawHead]!;
    this.raw[this.rawHead++] = undefined;
    if (this.rawHead === this.raw.length) {
      this.raw = [];
      this.rawIds = [];
      this.rawHead = 0;
    } else if (this.rawHead >= COMPACT_AT && 2 * this.rawHead >= this.raw.length) {
      // a source that stays ahead never empties the queue: drop the part already taken, or it grows for ever
      this.raw = this.raw.slice(this.rawHead);
      this.rawIds = this.rawIds.slice(this.rawHead);
      this.rawHead = 0;
    }
    return request;
  }

  /** A prepared entry: through the gate, then queued (unless it rides on, or waits behind, a live one). */
  admit(entry: Entry<R>, now: number): void {
    if (this.gate.admit(entry) === 'new') this.enqueue(entry, now);
  }

  /** Queues an entry for a call; the first of an empty queue starts the `maxBatchWaitMs` clock. */
  enqueue(entry: Entry<R>, now: number): void {
    if (this.queuedCount === 0) this.firstQueuedAt = now;
    entry.state = 'queued';
    this.queued.push(entry);
  }

  /** An entry to send again at `readyAt`. */
  retry(entry: Entry<R>, readyAt: number): void {
    entry.state = 'retry';
    entry.readyAt = readyAt;
    let at = this.retries.length;
    while (at > 0 && this.retries[at - 1]!.readyAt > readyAt) at--;
    this.retries.splice(at, 0, entry);
  }

  /** When the soonest retry is due, or `Infinity`. */
  get nextRetryAt(): number {
    return this.retries.length > 0 ? this.retries[0]!.readyAt : Infinity;
  }

  /**
   * The entries of the next call — due retries first, then queued entries, at most `maxCount` and `maxBytes` — or
   * `undefined` when none should go now: a call goes when it is full, when it carries a retry (retries never wait for
   * company), or when `partial` says a call that is not full may go.
   */
  nextCall(now: number, maxCount: number, maxBytes: number, partial: boolean): Array<Entry<R>> | undefined {
    let due = 0;
    while (due < this.retries.length && this.retries[due]!.readyAt <= now) due++;
    // how many would go, due retries first: until the count or the bytes are full
    let count = 0;
    let bytes = 0;
    let full = false;
    const queued = this.queued.length - this.queuedHead;
    while (count < due + queued) {
      const e = count < due ? this.retries[count]! : this.queued[this.queuedHead + count - due]!;
      if (count === maxCount || (count > 0 && bytes + e.bytes > maxBytes)) {
        full = true;
        break;
      }
      bytes += e.bytes;
      count++;
    }
    if (count === 0 || (!full && count < maxCount && due === 0 && !partial)) return undefined;
    const fromRetries = Math.min(count, due);
    const call = this.retries.splice(0, fromRetries);
    for (let i = fromRetries; i < count; i++) {
      call.push(this.queued[this.queuedHead]!);
      this.queued[this.queuedHead++] = undefined as unknown as Entry<R>;
    }
    if (this.queuedHead === this.queued.length) {
      this.queued = [];
      this.queuedHead = 0;
    } else if (this.queuedHead >= COMPACT_AT && 2 * this.queuedHead >= this.queued.length) {
      this.queued = this.queued.slice(this.queuedHead);
      this.queuedHead = 0;
    }
    for (const e of call) e.state = 'flight';
    return call;
  }

  /** Everything still here (queued, waiting to retry, held, not prepared), for handing back when the stream stops. */
  leftovers(): { entries: Array<Entry<R>>; raw: Array<Taken<R>> } {
    const entries = [...this.queued.slice(this.queuedHead), ...this.retries, ...this.gate.heldEntries()];
    const raw = this.raw.slice(this.rawHead).map((request, i) => ({ id: this.rawIds[this.rawHead + i]!, request: request! }));
    return { entries, raw };
  }
}
