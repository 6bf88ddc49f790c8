import type { BatchWriteItemCommandInput, WriteRequest as WireWriteRequest } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';

type Cold = TestScheduler['createColdObservable'];

export interface FakeCall {
  /** Virtual time the call was made. */
  at: number;
  /** `table:pk` of every request in the call, in order; `-` before a delete. */
  requests: string[];
  /** The items (or keys) of the call, unmarshalled. */
  items: Record<string, unknown>[];
  signal?: AbortSignal;
}

export interface FakeAnswer {
  /** The response's timing: `r` is the response. @default '-r|' */
  marble?: string;
  /** Which requests come back unprocessed. @default none */
  unprocessed?: (table: string, pk: string) => boolean;
  /** Throw this instead (at `#` in marble, default '-#'). */
  error?: unknown;
  consumed?: number;
}

const label = (table: string, r: WireWriteRequest) => {
  const av = r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {};
  return `${r.DeleteRequest ? '-' : ''}${table}:${String(unmarshall(av).pk)}`;
};

/**
 * A client whose `send` answers BatchWriteItem with a cold Observable on the TestScheduler, so the virtual clock
 * drives every call: `answer(call, index)` scripts each response.
 */
export function fakeWriteClient(
  now: () => number,
  cold: Cold | ((marble: string, values?: object, error?: unknown) => Observable<unknown>),
  answer: (call: FakeCall, index: number) => FakeAnswer = () => ({}),
) {
  const calls: FakeCall[] = [];
  const client = {
    send(command: { input: BatchWriteItemCommandInput }, options?: { abortSignal?: AbortSignal }) {
      const input = command.input;
      const requests = Object.entries(input.RequestItems ?? {}).flatMap(([table, list]) => list.map((r) => label(table, r)));
      const items = Object.values(input.RequestItems ?? {}).flatMap((list) =>
        list.map((r) => unmarshall(r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {})),
      );
      const call: FakeCall = { at: now(), requests, items, signal: options?.abortSignal };
      calls.push(call);
      const a = answer(call, calls.length - 1);
      if (a.error !== undefined) return (cold as Cold)(a.marble ?? '-#', {}, a.error);
      const UnprocessedItems: Record<string, WireWriteRequest[]> = {};
      for (const [table, list] of Object.entries(input.RequestItems ?? {})) {
        const left = list.filter((r) => a.unprocessed?.(table, label(table, r).replace(/^-?[^:]*:/, '')));
        if (left.length) UnprocessedItems[table] = left;
      }
      const ConsumedCapacity =
        a.consumed === undefined
          ? undefined
          : Object.keys(input.RequestItems ?? {}).map((TableName) => ({ TableName, CapacityUnits: a.consumed }));
      return (cold as Cold)(a.marble ?? '-r|', { r: { UnprocessedItems, ConsumedCapacity, $metadata: {} } });
    },
  };
  return { client, calls };
}
