import { Observable } from 'rxjs';

/**
 * A shared limit on work in flight: `limit(work$)` subscribes to `work$` only while fewer than `concurrency`
 * limited Observables are active, otherwise queues it (FIFO, or at the front with `first: true`). Waiting costs no
 * slot, so a batch waiting out its backoff never blocks another batch's call. Unsubscribing a queued Observable
 * removes it from the queue; unsubscribing an active one frees its slot.
 */
export interface Limiter {
  <T>(work: Observable<T>, options?: { first?: boolean }): Observable<T>;
  /** Observables active now. */
  readonly active: number;
  /** The limit now; `setLimit` changes it (adaptive concurrency): a lower one lets active work finish, a higher one starts queued work at once. */
  readonly limit: number;
  setLimit(limit: number): void;
  /**
   * Starts nothing more, ever: called first when the whole pipeline is torn down, so that unsubscribing the active
   * Observables (which frees their slots) does not start the queued ones on the way out.
   */
  close(): void;
}

export function createLimiter(concurrency: number): Limiter {
  let active = 0;
  let closed = false;
  const queue: Array<() => void> = [];
  const startQueued = () => {
    while (!closed && active < concurrency && queue.length > 0) queue.shift()!();
  };
  const release = () => {
    active--;
    startQueued();
  };
  const limit = <T>(work: Observable<T>, options: { first?: boolean } = {}) =>
    new Observable<T>((subscriber) => {
      let started = false;
      let finished = false;
      const finish = () => {
        if (started && !finished) {
          finished = true;
          release();
        }
      };
      const inner = new Observable<T>((s) => work.subscribe(s));
      let subscription: { unsubscribe(): void } | undefined;
      const start = () => {
        started = true;
        active++;
        subscription = inner.subscribe({
          next: (v) => subscriber.next(v),
          error: (e) => {
            finish();
            subscriber.error(e);
          },
          complete: () => {
            finish();
            subscriber.complete();
          },
        });
      };
      if (active < concurrency) start();
      else if (options.first) queue.unshift(start);
      else queue.push(start);
      return () => {
        if (!started) {
          const index = queue.indexOf(start);
          if (index >= 0) queue.splice(index, 1);
          return;
        }
        subscription?.unsubscribe();
        finish();
      };
    });
  const close = () => {
    closed = true;
    queue.length = 0;
  };
  const setLimit = (next: number) => {
    concurrency = next;
    startQueued();
  };
  Object.defineProperty(limit, 'active', { get: () => active });
  Object.defineProperty(limit, 'limit', { get: () => concurrency });
  return Object.assign(limit, { close, setLimit }) as unknown as Limiter;
}
