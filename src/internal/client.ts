import { DescribeTableCommand, type DescribeTableCommandOutput } from '@aws-sdk/client-dynamodb';
import type { marshallOptions, unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { defer, from, Observable, of, tap } from 'rxjs';
import type { DynamoDBSender } from '../types.js';
import { sendResolved } from './engine/resolvedSend.js';

/**
 * Sends one command as a lazy, cancellable Observable: the call starts on subscribe, and unsubscribing before it
 * settles aborts it (`abortSignal`), also during the SDK's own retry backoff. `send` may return a Promise or any
 * ObservableInput (test fakes return cold Observables). With `signal`, the caller aborts (an engine aborts all its
 * calls at once, and saves making a controller per call).
 */
export function sendCommand<T>(client: DynamoDBSender, command: object, signal?: AbortSignal): Observable<T> {
  if (signal) return defer(() => from(sendResolved(client, command, { abortSignal: signal }) as Observable<T>));
  return new Observable<T>((subscriber) => {
    const controller = new AbortController();
    let settled = false;
    const subscription = from(sendResolved(client, command, { abortSignal: controller.signal }) as Observable<T>).subscribe({
      next: (value) => subscriber.next(value),
      error: (error) => {
        settled = true;
        subscriber.error(error);
      },
      complete: () => {
        settled = true;
        subscriber.complete();
      },
    });
    return () => {
      subscription.unsubscribe();
      if (!settled) controller.abort();
    };
  });
}

/** Marshal options the toolkit uses for plain items with a low-level `DynamoDBClient`. */
export const DEFAULT_MARSHALL_OPTIONS: marshallOptions = { removeUndefinedValues: true, convertClassInstanceToMap: true };

/** A `DynamoDBDocumentClient`'s own marshal options (its `translateConfig`), or the toolkit's defaults. */
export function marshallOptionsOf(client: DynamoDBSender): marshallOptions {
  const config = (client as { config?: { translateConfig?: { marshallOptions?: marshallOptions } } }).config;
  return config?.translateConfig?.marshallOptions ?? DEFAULT_MARSHALL_OPTIONS;
}

/**
 * A `DynamoDBDocumentClient`'s own unmarshal options (its `translateConfig`), when it has some; `undefined` means the
 * toolkit's exact unmarshalling (numbers that a `number` cannot hold exactly come out as `bigint` or `NumberValue`).
 */
export function unmarshallOptionsOf(client: DynamoDBSender): unmarshallOptions | undefined {
  const config = (client as { config?: { translateConfig?: { unmarshallOptions?: unmarshallOptions } } }).config;
  return config?.translateConfig?.unmarshallOptions;
}

/** A table's key attributes (partition key first) and, when known from DescribeTable, their types. */
export interface KeySchema {
  attributes: string[];
  types?: Record<string, string>;
}

const schemaCache = new WeakMap<object, Map<string, KeySchema>>();

/**
 * The table's key schema from one DescribeTable call, cached per client and table for the life of the client.
 * A failed call is not cached.
 */
export function describeKeySchema(client: DynamoDBSender, table: string): Observable<KeySchema> {
  let perClient = schemaCache.get(client);
  if (!perClient) schemaCache.set(client, (perClient = new Map()));
  const cached = perClient.get(table);
  if (cached) return of(cached);
  const cache = perClient;
  return new Observable<KeySchema>((subscriber) =>
    sendCommand<DescribeTableCommandOutput>(client, new DescribeTableCommand({ TableName: table }))
      .pipe(
        tap((output) => {
          const keySchema = output.Table?.KeySchema ?? [];
          const attributes = [...keySchema]
            .sort((a, b) => (a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0))
            .map((k) => k.AttributeName!);
          if (attributes.length === 0) throw new Error(`DescribeTable for ${table} returned no KeySchema; pass keyAttributes`);
          const types: Record<string, string> = {};
          for (const d of output.Table?.AttributeDefinitions ?? [])
            if (attributes.includes(d.AttributeName!)) types[d.AttributeName!] = d.AttributeType!;
          const schema: KeySchema = { attributes, types };
          cache.set(table, schema);
          subscriber.next(schema);
          subscriber.complete();
        }),
      )
      .subscribe({ error: (error) => subscriber.error(error) }),
  );
}
