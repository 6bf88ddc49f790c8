import { Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { describeKeySchema, type KeySchema } from './client.js';
import type { DynamoDBSender } from '../types.js';

/** A request taken from the source, numbered in input order. */
export interface Taken<R> {
  id: number;
  request: R;
}

/** A taken request with its table's key schema, or the error DescribeTable gave for the table. */
export interface WithSchema<R> extends Taken<R> {
  schema?: KeySchema;
  schemaError?: unknown;
}

/**
 * Attaches each request's key schema, in input order: from `given(table)` when the caller named the key attributes,
 * otherwise from one DescribeTable per table (cached per client). Requests wait, in order, only while a table's
 * first DescribeTable is in flight; after that they pass through synchronously. A DescribeTable failure is
 * remembered for the subscription, so a missing table costs one call, not one per request.
 */
export function withKeySchemas<R>(
  client: DynamoDBSender,
  tableOf: (request: R) => string | undefined,
  given: (table: string) => string[] | undefined,
): OperatorFunction<Taken<R>, WithSchema<R>> {
  return (source) =>
    new Observable<WithSchema<R>>((subscriber) => {
      const known = new Map<string, { schema?: KeySchema; schemaError?: unknown }>();
      let queue: Array<Taken<R> | undefined> = [];
      let head = 0;
      let describing: Subscription | undefined;
      let waiting = false;
      let completed = false;

      const lookUp = (table: string): boolean => {
        if (known.has(table)) return true;
        const attributes = given(table);
        if (attributes) {
          known.set(table, { schema: { attributes } });
          return true;
        }
        waiting = true;
        const done = () => {
          waiting = false;
          describing = undefined;
          drain();
        };
        const subscription = describeKeySchema(client, table).subscribe({
          next: (schema) => known.set(table, { schema }),
          error: (schemaError: unknown) => {
            known.set(table, { schemaError });
            done();
          },
          complete: done,
        });
        if (waiting) describing = subscription;
        return false;
      };
      const drain = (): void => {
        while (head < queue.length && !waiting) {
          const taken = queue[head]!;
          const table = tableOf(taken.request);
          if (table !== undefined && !lookUp(table)) return;
          queue[head++] = undefined;
          if (table !== undefined) Object.assign(taken, known.get(table));
          subscriber.next(taken);
        }
        if (head === queue.length) {
          queue = [];
          head = 0;
        }
        if (completed && queue.length === 0 && !waiting) subscriber.complete();
      };

      const subscription = source.subscribe({
        next: (taken) => {
          queue.push(taken);
          drain();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          completed = true;
          drain();
        },
      });
      return () => {
        subscription.unsubscribe();
        describing?.unsubscribe();
      };
    });
}
