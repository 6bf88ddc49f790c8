/**
 * What the engine keeps per request: the request as it came, its key's identity, its prepared wire text, and where
 * it stands. Plus the two ways of naming a key — from the plain JavaScript a user gave, and from the AttributeValues
 * DynamoDB sends back — which give the same string exactly when DynamoDB sees the same key.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalNumber } from '../numbers.js';

/** A request taken from the source, numbered in input order. */
export interface Taken<R> {
  id: number;
  request: R;
}

/** Where an entry stands. */
export type EntryState = 'queued' | 'retry' | 'flight' | 'held' | 'settled';

/** A prepared request (a write) or key (a read). */
export interface Entry<R> {
  /** Input order of the request it now carries. */
  id: number;
  request: R;
  table: string;
  /** Identity of the key within its table. */
  key: string;
  /** The plain JavaScript its key is read from (the put item, the delete key, the key to read), for messages. */
  values: Record<string, unknown>;
  /** Its text in the request body: `{"PutRequest":{"Item":…}}`, `{"DeleteRequest":{"Key":…}}`, or a key map. */
  json: string;
  /** Bytes of `json` in the body, with the comma that separates it from the next. */
  bytes: number;
  /** Capacity units it costs (an estimate until DynamoDB says). */
  units: number;
  /** Calls that carried it. */
  attempts: number;
  /** With `state: 'retry'`: when it may go again, by the scheduler's clock. */
  readyAt: number;
  state: EntryState;
  /** Other requests it answers for: earlier ones for the same key it replaced (writes), or the same key asked again (reads). */
  merged?: Array<Taken<R>>;
  /** Writes: the batch (the first call that carried it), which reports it. */
  batch?: object;
}

/** `s…`, `n…`, `b…`: one key attribute, as DynamoDB compares it. */
function nativePart(value: unknown): string | undefined {
  if (typeof value === 'string') return `s${value}`;
  if (typeof value === 'number') return Number.isFinite(value) ? `n${canonicalNumber(String(value))}` : undefined;
  if (typeof value === 'bigint') return `n${canonicalNumber(String(value))}`;
  if (ArrayBuffer.isView(value)) return `b${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`;
  if (value instanceof ArrayBuffer) return `b${Buffer.from(value).toString('base64')}`;
  if (typeof value === 'object' && value !== null && value.constructor?.name === 'NumberValue') return `n${canonicalNumber(String(value))}`;
  return undefined;
}

function wirePart(value: AttributeValue | undefined): string {
  if (value?.S !== undefined) return `s${value.S}`;
  if (value?.N !== undefined) return `n${canonicalNumber(value.N)}`;
  // binary: bytes from the SDK, or base64 text straight from the wire
  const b: unknown = value?.B;
  if (b !== undefined) return `b${typeof b === 'string' ? b : Buffer.from(b as Uint8Array).toString('base64')}`;
  return '?';
}

/** Parts joined so that different keys never give the same string (each part is length-prefixed). */
const joinParts = (parts: string[]) => (parts.length === 1 ? parts[0]! : parts.map((p) => `${p.length}:${p}`).join('\u0000'));

/** The identity of a key given as plain JavaScript, or `undefined` when a key attribute is missing or not a key type. */
export function nativeKey(values: Record<string, unknown>, attributes: string[]): string | undefined {
  if (attributes.length === 1) return nativePart(values[attributes[0]!]);
  const parts: string[] = [];
  for (const a of attributes) {
    const part = nativePart(values[a]);
    if (part === undefined) return undefined;
    parts.push(part);
  }
  return joinParts(parts);
}

/** The identity of a key DynamoDB sent back (in `UnprocessedItems`, `UnprocessedKeys` or an item). */
export function wireKey(av: Record<string, AttributeValue>, attributes: string[]): string {
  return joinParts(attributes.map((a) => wirePart(av[a])));
}

/** `pk="ticket#1", sk=7`: a key for messages, short enough to read. */
export function describeKeyValues(values: Record<string, unknown>, attributes: string[]): string {
  return attributes
    .map((a) => {
      const v = values[a];
      const shown =
        typeof v === 'string'
          ? JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)
          : v instanceof Uint8Array
            ? `<${v.byteLength} bytes>`
            : v === undefined
              ? 'missing'
              : String(v);
      return `${a}=${shown}`;
    })
    .join(', ');
}
