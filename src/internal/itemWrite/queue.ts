/**
 * Which request the single-item engine sends next: the transaction engine's ordering gate (`../transact/gate.ts`),
 * with one item per request, its key. Plain and synchronous.
 */
import { OrderGate } from '../transact/gate.js';

/**
 * Which request goes next: retries that fell due and requests released from behind their key come first, then fresh
 * ones in input order. A request for a key that has one live (queued, in a call, waiting to retry) waits behind it,
 * so that the writes to a key land in input order. `admit` answers `'queued'`, or `'held'` behind the live request
 * for its key; `settled` queues the next one behind it first.
 */
export class ItemQueue<E extends { key: string }> extends OrderGate<E> {
  constructor() {
    // one item per request: at most one is released at a time, so the order of those released together is moot
    super(
      (e) => [e.key],
      () => 0,
    );
  }
}
