import type { AttributeValue, BatchGetItemCommandInput } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';

type Cold = TestScheduler['createColdObservable'];

export interface FakeReadCall {
  /** Virtual time the call was made. */
  at: number;
  /** `table:pk` of every key in the call, in order. */
  keys: string[];
  signal?: AbortSignal;
}

export interface FakeReadAnswer {
  /** The response's timing: `r` is the response. @default '-r|' */
  marble?: string;
  /** Which keys come back in `UnprocessedKeys`. @default none */
  unprocessed?: (table: string, pk: string) => boolean;
  /** Throw this instead (at `#` in marble, default '-#'). */
  error?: unknown;
}

/** The item a fake table holds for `pk`: `{ pk, title: 'Item <pk>' }`, none for keys starting with `gone`. */
export const storedItem = (table: string, pk: string): Record<string, unknown> | undefined =>
  pk.startsWith('gone') ? undefined : { pk, title: `Item ${table}:${pk}` };

/**
 * A client whose `send` answers BatchGetItem with a cold Observable on the TestScheduler, so the virtual clock drives
 * every call: the items of the keys it was asked for (`storedItem`), less those `answer(call, index)` leaves
 * unprocessed. Keys are read from `command.input`, as AttributeValues.
 */
export function fakeReadClient(
  now: () => number,
  cold: Cold | ((marble: string, values?: object, error?: unknown) => Observable<unknown>),
  answer: (call: FakeReadCall, index: number) => FakeReadAnswer = () => ({}),
) {
  const calls: FakeReadCall[] = [];
  const client = {
    send(command: { input: BatchGetItemCommandInput }, options?: { abortSignal?: AbortSignal }) {
      const requested = Object.entries(command.input.RequestItems ?? {}).flatMap(([table, { Keys }]) =>
        (Keys ?? []).map((key) => ({ table, key, pk: String(unmarshall(key).pk) })),
      );
      const call: FakeReadCall = { at: now(), keys: requested.map((r) => `${r.table}:${r.pk}`), signal: options?.abortSignal };
      calls.push(call);
      const a = answer(call, calls.length - 1);
      if (a.error !== undefined) return (cold as Cold)(a.marble ?? '-#', {}, a.error);
      const Responses: Record<string, Array<Record<string, AttributeValue>>> = {};
      const UnprocessedKeys: Record<string, { Keys: Array<Record<string, AttributeValue>> }> = {};
      for (const { table, key, pk } of requested) {
        if (a.unprocessed?.(table, pk)) (UnprocessedKeys[table] ??= { Keys: [] }).Keys.push(key);
        else {
          const item = storedItem(table, pk);
          if (item) (Responses[table] ??= []).push(marshall(item));
        }
      }
      return (cold as Cold)(a.marble ?? '-r|', { r: { Responses, UnprocessedKeys, $metadata: {} } });
    },
  };
  return { client, calls };
}
