import { Observable, type OperatorFunction } from 'rxjs';

/**
 * An internal, lossless pull buffer: takes every value the source pushes (cheaply, into a queue) and hands them on
 * only while `hasRoom()` says so, looking again whenever `wake` is called. This is how the batch engines keep a fixed
 * number of batches in progress per table whatever the source does, and how the work of checking and marshalling a
 * request is done when its batch is about to be sent — between calls, not all up front.
 */
export function pace<T>(hasRoom: () => boolean, onWake: (wake: () => void) => void): OperatorFunction<T, T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let queue: T[] = [];
      let head = 0;
      let done = false;
      let draining = false;
      const drain = () => {
        if (draining) return; // a value handed on can wake us again: the loop below picks that up
        draining = true;
        try {
          while (head < queue.length && hasRoom() && !subscriber.closed) {
            const value = queue[head]!;
            queue[head++] = undefined as T;
            subscriber.next(value);
          }
          if (head === queue.length && head > 0) {
            queue = [];
            head = 0;
          } else if (head > 1024 && head * 2 > queue.length) {
            queue = queue.slice(head);
            head = 0;
          }
          if (done && head === queue.length) subscriber.complete();
        } finally {
          draining = false;
        }
      };
      onWake(drain);
      const subscription = source.subscribe({
        next: (value) => {
          queue.push(value);
          drain();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          done = true;
          drain();
        },
      });
      return () => {
        subscription.unsubscribe();
        queue = [];
      };
    });
}
