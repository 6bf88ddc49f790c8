/**
 * The read operators' part of the batch engine: how a key is prepared, what a BatchGetItem call looks like on the
 * wire, how its answer is read, and one {@link GetOutcome} per key taken. The engine itself is in
 * `batchInternals.ts` and `src/internal/engine/`.
 */
import { type AttributeValue, BatchGetItemCommand, type BatchGetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import type { unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { defer, map, type Observable, type OperatorFunction } from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { toBudget, unitsConsumed } from '../capacity.js';
import { BatchGetError, type BatchGetErrorCode } from '../errors.js';
import { marshallOptionsOf, sendCommand, unmarshallOptionsOf } from '../internal/client.js';
import { BATCH_GET_MAX_KEYS, MAX_REQUEST_BYTES, REQUEST_ENVELOPE_BYTES } from '../internal/constants.js';
import { type FailureCode, type OnSettled, requestsOf } from '../internal/engine/engine.js';
import { describeKeyValues, type Entry, wireKey } from '../internal/engine/entry.js';
import { fastCommand, parsedOutput } from '../internal/engine/fastCommand.js';
import { attributeValuesOf, type MarshalSettings } from '../internal/marshal.js';
import { batchSettings } from '../internal/options.js';
import { prepareGet, requestTable } from '../internal/prepare.js';
import { isRetryableError } from '../internal/retryable.js';
import { splitOnRejection } from '../internal/splitOnRejection.js';
import { exactUnmarshall, exactUnmarshallJson, unmarshallerFor } from '../internal/unmarshal.js';
import type { BatchOptions, DynamoDBSender, GetRequest, Item } from '../types.js';
import { type BatchOperator, batchEngine, type SendResult } from './batchInternals.js';

/** Options of the read operators. */
export interface BatchGetOptions extends BatchOptions {
  /** Keys per BatchGetItem call, at most 100. @default 100 */
  batchSize?: number;
  /** Sends a call this long after its first key was queued even if it is not full. @default Infinity */
  maxBatchWaitMs?: number;
  /** Strongly consistent reads (twice the read capacity). @default false */
  consistentRead?: boolean;
  /**
   * Top-level attribute names to read; names are passed through `ExpressionAttributeNames`, so reserved words such as
   * `name` or `status` are fine. The key attributes are always read too. @default every attribute
   */
  projection?: string[];
  /** How keys are marshalled. @default the document client's, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: MarshalSettings;
  /**
   * How items are unmarshalled, through the SDK's `unmarshall`: give `{}` for the SDK's plain behaviour (every number
   * a JavaScript `number`, rounded beyond 17 digits). @default the document client's if it has some, else exact:
   * a number is a `number` only when that is exact, a `bigint` for a larger integer, otherwise a `NumberValue`
   */
  unmarshallOptions?: unmarshallOptions;
  /** The link to release as keys are settled (read, missing, or failed). @default none */
  backpressure?: Backpressure;
}

/** What the read engine says of one key taken from the source, in the order keys are settled. */
export interface GetOutcome {
  /** Input order. */
  id: number;
  request: GetRequest;
  /** The item; undefined when no item has the key, or on failure. */
  item: Item | undefined;
  /** With `onFailure: 'emit'`: why the key was not read. */
  error?: BatchGetError;
}

type GetEntry = Entry<GetRequest>;
/** The items a call found, unmarshalled (or the error unmarshalling gave), by the entry that asked. */
type Found = Map<GetEntry, Item | UnmarshalFailure>;
/** An item DynamoDB gave that could not be unmarshalled. */
class UnmarshalFailure {
  constructor(readonly error: unknown) {}
}
/** What a call answered, matched to its entries. */
interface ReadAnswer {
  unprocessed: GetEntry[];
  found: Found;
  units?: number;
}

const CODES: Record<FailureCode, BatchGetErrorCode> = {
  invalidRequest: 'batchGet.invalidRequest',
  nonRetryable: 'batchGet.nonRetryable',
  attemptsExhausted: 'batchGet.attemptsExhausted',
};

/** `ProjectionExpression` and `ExpressionAttributeNames` for attribute names, key attributes included (so that items can be matched to keys). */
export function projectionOf(
  attributes: string[],
  projection: string[],
): { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> } {
  const names = [...new Set([...attributes, ...projection])];
  return {
    ProjectionExpression: names.map((_, i) => `#p${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#p${i}`, name])),
  };
}

/** The BatchGetItem body of a call, and the same as an ordinary input for wrappers; `parse` reads the answer itself. */
function getCommand(
  table: string,
  entries: GetEntry[],
  params: Record<string, unknown>,
  consumed: boolean,
  parse: ((json: Record<string, unknown>) => ReadAnswer) | undefined,
  sender: unknown,
): BatchGetItemCommand {
  const texts = entries.map((e) => e.json);
  const rest = JSON.stringify(params).slice(1, -1);
  const flags = consumed ? { ReturnConsumedCapacity: 'TOTAL' as const } : {};
  return fastCommand(
    BatchGetItemCommand,
    {
      body: `{"RequestItems":{${JSON.stringify(table)}:{"Keys":[${texts.join(',')}]${rest ? `,${rest}` : ''}}}${consumed ? ',"ReturnConsumedCapacity":"TOTAL"' : ''}}`,
      stub: { RequestItems: { [table]: { Keys: [], ...params } }, ...flags },
      input: () => ({ RequestItems: { [table]: { Keys: texts.map(attributeValuesOf), ...params } }, ...flags }),
      parse,
    },
    sender,
  );
}

type Wire = Record<string, AttributeValue>;

/**
 * The items found and the keys left unprocessed, each matched to the entry that asked: from the SDK's output
 * (AttributeValues), or straight from the response's JSON (binary as base64 text).
 */
function answerOf(
  entries: GetEntry[],
  attributes: string[],
  output: {
    Responses?: Record<string, Wire[]>;
    UnprocessedKeys?: Record<string, { Keys?: Wire[] }>;
    ConsumedCapacity?: Array<{ CapacityUnits?: number }>;
  },
  unmarshal: (item: Wire) => Item,
): ReadAnswer {
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const entryOf = (av: Wire) => {
    const entry = byKey.get(wireKey(av, attributes));
    if (!entry) throw new Error(`DynamoDB returned a key that was not asked for in this call (${wireKey(av, attributes)})`);
    return entry;
  };
  const found: Found = new Map();
  for (const items of Object.values(output.Responses ?? {}))
    for (const item of items) {
      const entry = entryOf(item);
      try {
        found.set(entry, unmarshal(item));
      } catch (error) {
        found.set(entry, new UnmarshalFailure(error));
      }
    }
  const unprocessed: GetEntry[] = [];
  for (const { Keys } of Object.values(output.UnprocessedKeys ?? {})) for (const key of Keys ?? []) unprocessed.push(entryOf(key));
  return { unprocessed, found, units: unitsConsumed(output.ConsumedCapacity) };
}

/**
 * The read engine behind dynamoBatchGet, dynamoBatchGetRequests and dynamoLookup: keys → checked and prepared once
 * → one lane per table, a key asked again while it is being read sharing its answer → BatchGetItem calls of up to 100
 * keys, `UnprocessedKeys` sent again with fresh keys → one outcome per key taken (found, missing, or failed).
 */
export function getRequestsInternal(
  client: DynamoDBSender,
  keyAttributesOf: (table: string) => string[] | undefined,
  options: BatchGetOptions,
): OperatorFunction<GetRequest, GetOutcome> {
  const settings = batchSettings(options, BATCH_GET_MAX_KEYS);
  const { consistentRead, projection, backpressure } = options;
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const unmarshal = unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client));
  const exact = unmarshal === exactUnmarshall;
  const userBudget = toBudget(options.capacity);
  /** Read units per key before the answer says what was consumed: 1 per started 4 KB, half for eventual reads. */
  const unitsPerKey = consistentRead ? 1 : 0.5;
  const engineSettings = {
    maxAttempts: settings.maxAttempts,
    maxBatchWaitMs: settings.maxBatchWaitMs,
    isRetryable: isRetryableError,
    onFailure: settings.onFailure,
    backoff: settings.backoff,
    random: settings.random,
  };
  const failure = (code: FailureCode, message: string, cause: unknown, attempts: number, unprocessed: GetRequest[]) =>
    new BatchGetError(CODES[code], message, { unprocessed, attempts, cause });

  return (source) =>
    defer(() => {
      const found: Found = new Map();
      const params = new Map<string, { attributes: string[]; extra: Record<string, unknown> }>();
      let signal: AbortSignal | undefined;
      const send = splitOnRejection(
        (entries: GetEntry[]): Observable<{ unprocessed: GetEntry[]; response: ReadAnswer }> => {
          const { attributes, extra } = params.get(entries[0]!.table)!;
          // with the exact unmarshalling (the default), the response's JSON is read straight into items
          const parse = exact
            ? (json: Record<string, unknown>) => answerOf(entries, attributes, json, exactUnmarshallJson as never)
            : undefined;
          const command = getCommand(entries[0]!.table, entries, extra, userBudget !== undefined, parse, client);
          return sendCommand<BatchGetItemCommandOutput>(client, command, signal).pipe(
            map((output) => {
              const answer = parsedOutput<ReadAnswer>(output) ?? answerOf(entries, attributes, output, unmarshal);
              return { unprocessed: answer.unprocessed, response: answer };
            }),
          );
        },
        (a, b) => ({
          unprocessed: [],
          found: new Map([...(a?.found ?? []), ...(b?.found ?? [])]),
          units: (a?.units ?? 0) + (b?.units ?? 0),
        }),
      );
      /** One outcome per request a settled entry answers for; an item that cannot be unmarshalled fails alone. */
      const outcomes: (...args: Parameters<OnSettled<GetRequest>>) => GetOutcome[] = (entry, settledError, refused) => {
        let error = settledError as BatchGetError | undefined;
        let item: Item | undefined;
        const got = entry && found.get(entry);
        if (entry && got) {
          found.delete(entry);
          if (got instanceof UnmarshalFailure) {
            const e = got.error as Error;
            const where = `table ${entry.table}, ${describeKeyValues(entry.values, params.get(entry.table)?.attributes ?? [])}`;
            error = failure('nonRetryable', `The item for ${where} could not be unmarshalled: ${e.message}.`, e, entry.attempts, [
              entry.request,
            ]);
          } else item = got as Item;
        }
        if (!entry) return [{ id: refused!.id, request: refused!.request, item: undefined, error }];
        if (!entry.merged)
          return [
            error ? { id: entry.id, request: entry.request, item: undefined, error } : { id: entry.id, request: entry.request, item },
          ];
        return requestsOf(entry).map(({ id, request }) => (error ? { id, request, item: undefined, error } : { id, request, item }));
      };
      const operator: BatchOperator<GetRequest, GetOutcome> = {
        kind: 'read',
        keyAttributesOf,
        spec: {
          mode: 'share',
          words: { operation: 'BatchGetItem', noun: 'key', verb: 'read' },
          maxCount: settings.batchSize,
          maxBytes: MAX_REQUEST_BYTES - REQUEST_ENVELOPE_BYTES,
          tableOf: requestTable,
          prepare: (id, request, schema) => prepareGet(id, request, schema, marshalling, unitsPerKey),
          failure,
        },
        cost: (call) => call.entries.length * unitsPerKey,
        send: (call, abort): Observable<SendResult<GetRequest>> => {
          signal = abort;
          if (!params.has(call.lane.table)) {
            const attributes = call.lane.schema?.attributes ?? [];
            const extra = {
              ...(consistentRead ? { ConsistentRead: true } : {}),
              ...(projection ? projectionOf(attributes, projection) : {}),
            };
            params.set(call.lane.table, { attributes, extra });
          }
          return send(call.entries).pipe(
            map((outcome) => ({
              answer: {
                unprocessed: outcome.unprocessed,
                rejected: (outcome.rejected ?? []).map((r) => ({ entry: r.request, error: r.error })),
              },
              consumed: outcome.response?.units,
              found: outcome.response?.found,
            })),
          );
        },
        started: () => undefined,
        answered: (_call, result) => {
          for (const [entry, item] of (result.found ?? new Map()) as Found) found.set(entry, item);
        },
        settled: outcomes,
        halted: () => [],
      };
      return source.pipe(
        batchEngine(client, operator, engineSettings, {
          ...options,
          concurrency: settings.concurrency,
          maxConcurrency: settings.maxConcurrency,
          scheduler: settings.scheduler,
          budget: userBudget,
          backpressure,
        }),
      );
    });
}
