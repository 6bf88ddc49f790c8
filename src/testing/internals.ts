/**
 * What `withSimulatedCapacity` and `withFaults` share: recognising batch commands, splitting a batch into what is
 * forwarded and what comes back unprocessed, merging that into the real response, the SDK-shaped errors, and the
 * Proxy that swaps `send`. Not exported from the package.
 */
import {
  DynamoDBServiceException,
  InternalServerError,
  LimitExceededException,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { from, lastValueFrom } from 'rxjs';
import type { DynamoDBSender } from '../types.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** Options the SDK's `send` takes; the injectors read only `abortSignal`. */
export type SendOptions = { abortSignal?: AbortSignal } & Record<string, unknown>;
/** A batch command's `input`, in either form (marshalled or plain). */
export type AnyRecord = Record<string, any>;
/** `{ Keys, ProjectionExpression?, ConsistentRead?, ExpressionAttributeNames?, … }` for one table of a BatchGetItem. */
export type KeysAndAttributes = { Keys: AnyRecord[] } & AnyRecord;

/** Which batch operation a command is, and whether its items are `AttributeValue` maps (`marshalled`) or plain. */
export interface BatchKind {
  op: 'write' | 'get';
  marshalled: boolean;
}

const BATCH_COMMANDS: Record<string, BatchKind> = {
  BatchWriteItemCommand: { op: 'write', marshalled: true },
  BatchWriteCommand: { op: 'write', marshalled: false },
  BatchGetItemCommand: { op: 'get', marshalled: true },
  BatchGetCommand: { op: 'get', marshalled: false },
};

/**
 * The batch operation `command` is, recognised by its class name, or `undefined` for every other command and for a
 * batch with no requests at all or an empty table list (those go to DynamoDB untouched, so its own validation
 * errors come back).
 */
export function batchKind(command: unknown): BatchKind | undefined {
  const name: unknown = (command as AnyRecord | undefined)?.constructor?.name;
  if (typeof name !== 'string' || !Object.hasOwn(BATCH_COMMANDS, name)) return undefined;
  const kind = BATCH_COMMANDS[name]!;
  const requestItems: unknown = (command as AnyRecord).input?.RequestItems;
  if (requestItems === null || typeof requestItems !== 'object') return undefined;
  const lists = Object.values(requestItems).map((entry) => (kind.op === 'write' ? entry : (entry as AnyRecord)?.Keys));
  return lists.length > 0 && lists.every((list) => Array.isArray(list) && list.length > 0) ? kind : undefined;
}

/** A new command of the same class as `command`, with the same input except `RequestItems`. */
export function withRequestItems(command: AnyRecord, requestItems: AnyRecord): AnyRecord {
  const Command = command.constructor as new (input: AnyRecord) => AnyRecord;
  return new Command({ ...command.input, RequestItems: requestItems });
}

/** A batch split in two: the `RequestItems` to forward, and the rest in DynamoDB's `Unprocessed*` shape. */
export interface Partition {
  forward: AnyRecord;
  held: AnyRecord;
  forwardCount: number;
  heldCount: number;
}

/**
 * Splits a batch command's requests (write requests, or get keys) in order. `keep(table, request)` says whether
 * the request is forwarded; it is called once per request, table by table, in the command's order.
 */
export function partition(command: AnyRecord, kind: BatchKind, keep: (table: string, request: AnyRecord) => boolean): Partition {
  const result: Partition = { forward: {}, held: {}, forwardCount: 0, heldCount: 0 };
  for (const [table, entry] of Object.entries(command.input.RequestItems as AnyRecord)) {
    const requests: AnyRecord[] = kind.op === 'write' ? entry : entry.Keys;
    const kept: AnyRecord[] = [];
    const held: AnyRecord[] = [];
    for (const request of requests) (keep(table, request) ? kept : held).push(request);
    result.forwardCount += kept.length;
    result.heldCount += held.length;
    if (kept.length > 0) result.forward[table] = kind.op === 'write' ? kept : { ...entry, Keys: kept };
    if (held.length > 0) result.held[table] = kind.op === 'write' ? held : { ...entry, Keys: held };
  }
  return result;
}

/** Merges `{ [table]: WriteRequest[] }` maps, keeping each table's order. Always returns a map, `{}` when empty. */
export function mergeUnprocessedItems(...maps: (AnyRecord | undefined)[]): Record<string, AnyRecord[]> {
  const merged: Record<string, AnyRecord[]> = {};
  for (const map of maps) {
    for (const [table, requests] of Object.entries(map ?? {})) merged[table] = [...(merged[table] ?? []), ...requests];
  }
  return merged;
}

/** Merges `{ [table]: KeysAndAttributes }` maps: the keys are concatenated, the other fields kept from the first. */
export function mergeUnprocessedKeys(...maps: (AnyRecord | undefined)[]): Record<string, KeysAndAttributes> {
  const merged: Record<string, KeysAndAttributes> = {};
  for (const map of maps) {
    for (const [table, entry] of Object.entries(map ?? {})) {
      const before = merged[table];
      merged[table] = before ? { ...before, Keys: [...before.Keys, ...entry.Keys] } : { ...entry, Keys: [...entry.Keys] };
    }
  }
  return merged;
}

/** Calls the wrapped client's `send` and settles with its one response, whether it returns a Promise or an Observable. */
export function sendThrough(client: DynamoDBSender, command: unknown, options?: SendOptions): Promise<AnyRecord> {
  return lastValueFrom(from(client.send(command, options)));
}

/**
 * Forwards the `forward` part of a split batch (the original command if nothing was held back; no call at all if
 * nothing is left) and returns the response with the held requests merged into its `UnprocessedItems` /
 * `UnprocessedKeys`, which are always present (`{}` when empty), as DynamoDB returns them.
 */
export async function sendPartition(
  client: DynamoDBSender,
  command: AnyRecord,
  kind: BatchKind,
  { forward, held, forwardCount, heldCount }: Partition,
  options?: SendOptions,
): Promise<AnyRecord> {
  let response: AnyRecord;
  if (forwardCount === 0) response = { $metadata: { httpStatusCode: 200, attempts: 1, totalRetryDelay: 0 } };
  else response = await sendThrough(client, heldCount === 0 ? command : withRequestItems(command, forward), options);
  return withUnprocessed(response, kind, held);
}

/**
 * `response` with `held` merged into its `Unprocessed*`. For a get, `Responses` also lists each held table (`[]` if
 * none of its items came back), as DynamoDB lists every table of the request.
 */
export function withUnprocessed(response: AnyRecord, kind: BatchKind, held: AnyRecord): AnyRecord {
  if (kind.op === 'write') return { ...response, UnprocessedItems: mergeUnprocessedItems(response.UnprocessedItems, held) };
  const responses: AnyRecord = { ...response.Responses };
  for (const table of Object.keys(held)) responses[table] ??= [];
  return { ...response, Responses: responses, UnprocessedKeys: mergeUnprocessedKeys(response.UnprocessedKeys, held) };
}

const ERROR_CLASSES: Record<string, new (options: any) => DynamoDBServiceException> = {
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
  LimitExceededException,
  InternalServerError,
};

const MESSAGES: Record<string, string> = {
  ProvisionedThroughputExceededException:
    'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  RequestLimitExceeded: 'Throughput exceeds the current throughput limit for your account.',
  InternalServerError: 'Internal server error',
};

/**
 * An error shaped like the one the AWS SDK throws for DynamoDB throttling: an instance of the SDK's own exception
 * class when DynamoDB models that name (`ProvisionedThroughputExceededException`, `ThrottlingException`,
 * `RequestLimitExceeded`, `LimitExceededException`, `InternalServerError`), otherwise a `DynamoDBServiceException`
 * with that name; `$fault: 'client'`, `$metadata.httpStatusCode` 400 and `$retryable: { throttling: true }`.
 * `'InternalServerError'` is a server fault instead: HTTP 500, `$fault: 'server'` and no `$retryable`, like the SDK's.
 */
export function throttlingError(name = 'ProvisionedThroughputExceededException'): Error {
  const server = name === 'InternalServerError';
  const message = `${MESSAGES[name] ?? name} (simulated by rxjs-dynamodb/testing)`;
  const $metadata = { httpStatusCode: server ? 500 : 400, attempts: 1, totalRetryDelay: 0 };
  const ErrorClass = ERROR_CLASSES[name];
  const error = ErrorClass
    ? new ErrorClass({ message, $metadata })
    : new DynamoDBServiceException({ name, $fault: server ? 'server' : 'client', message, $metadata });
  if (!server) error.$retryable = { throttling: true };
  return error;
}

/** The error the SDK rejects with when `abortSignal` fires: `name: 'AbortError'`. */
export function abortError(): Error {
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  return error;
}

/**
 * A Proxy of `client` whose `send` hands the commands `handles(command)` accepts to `send` (which returns a Promise;
 * the SDK's callback form is honoured too) and every other command straight to the client, returning whatever it
 * returns. The Proxy also answers the properties of `extras`; every other property is the client's own.
 */
export function proxyClient<C extends DynamoDBSender, X extends object>(
  client: C,
  handles: (command: unknown) => boolean,
  send: (command: any, options?: SendOptions) => Promise<unknown>,
  extras: X,
): C & X {
  function wrappedSend(this: unknown, ...args: unknown[]): unknown {
    const [command, optionsOrCallback, callback] = args;
    if (!handles(command)) return Reflect.apply(client.send, client, args);
    const cb = typeof optionsOrCallback === 'function' ? optionsOrCallback : callback;
    const result = send(command, typeof optionsOrCallback === 'function' ? undefined : (optionsOrCallback as SendOptions));
    if (typeof cb !== 'function') return result;
    result.then(
      (output) => cb(null, output),
      (error: unknown) => cb(error),
    );
    return undefined;
  }
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'send') return wrappedSend;
      if (Object.hasOwn(extras, property)) return (extras as AnyRecord)[property as string];
      return Reflect.get(target, property, receiver);
    },
    has(target, property) {
      return Object.hasOwn(extras, property) || Reflect.has(target, property);
    },
  }) as C & X;
}
