import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { marshallOptions } from '@aws-sdk/util-dynamodb';
import { numberProblem } from './numbers.js';

/** How the toolkit turns plain JavaScript into DynamoDB values: the SDK's `marshallOptions`, plus what to do with dates. */
export interface MarshalSettings extends marshallOptions {
  /**
   * A `Date` has no DynamoDB type, and the SDK would store it as an empty map. `'refuse'` rejects the item (named);
   * `'iso'` stores `date.toISOString()` (a string that sorts in time order); `'epochMillis'` stores `date.getTime()`.
   * @default 'refuse'
   */
  dates?: 'refuse' | 'iso' | 'epochMillis';
}

/** A value the toolkit will not write as it is, because DynamoDB cannot hold it or it would silently change. */
export class UnmarshalableError extends Error {
  override readonly name = 'UnmarshalableError';
  constructor(
    /** Where in the item: `tags[2]`, `profile.address`. */
    readonly path: string,
    why: string,
  ) {
    super(`${path ? `attribute ${path}` : 'the value'} ${why}`);
  }
}

const BINARY_NAMES = new Set([
  'ArrayBuffer',
  'Buffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
]);

const hasLoneSurrogate = (s: string): boolean => !(s as unknown as { isWellFormed(): boolean }).isWellFormed();
const child = (path: string, name: string) => (path ? `${path}.${name}` : name);
const isBinary = (v: object): boolean => BINARY_NAMES.has((v as { constructor?: { name?: string } }).constructor?.name ?? '');

/** Bytes as a Buffer over the same memory, for base64. */
function bytesOf(value: ArrayBuffer | ArrayBufferView): Buffer {
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return Buffer.from(value);
}

/** `NumberValue` from any copy of `@aws-sdk/util-dynamodb` / `lib-dynamodb` (a second copy fails `instanceof`). */
const isNumberValue = (v: object): boolean =>
  v.constructor?.name === 'NumberValue' && typeof (v as { toAttributeValue?: unknown }).toAttributeValue === 'function';

function numberText(text: string, path: string): string {
  const problem = numberProblem(text);
  if (problem) throw new UnmarshalableError(path, `is not a DynamoDB number: ${problem}`);
  return text;
}

/** A JavaScript number as DynamoDB number text, or the reason it is refused. */
function numberOf(value: number, o: MarshalSettings, path: string): string {
  if (!Number.isFinite(value)) throw new UnmarshalableError(path, `is ${value}: DynamoDB numbers are finite`);
  if (!o.allowImpreciseNumbers && Number.isInteger(value) && !Number.isSafeInteger(value))
    throw new UnmarshalableError(
      path,
      `is ${value}, an integer beyond 2^53 that a number cannot hold exactly: pass a bigint or a NumberValue`,
    );
  if (value !== 0 && (Math.abs(value) >= 1e126 || Math.abs(value) < 1e-130))
    throw new UnmarshalableError(path, `is ${value}, outside DynamoDB's number range (1E-130 to under 1E+126)`);
  return String(value);
}

const json = JSON.stringify;
const NULL = '{"NULL":true}';

/**
 * One value as DynamoDB JSON text (`{"S":"…"}`, `{"N":"…"}`, `{"B":"<base64>"}`, …): the text the SDK would put on
 * the wire for the AttributeValue util-dynamodb's `marshall` makes, or an {@link UnmarshalableError}.
 */
function toJson(value: unknown, o: MarshalSettings, path: string): string {
  switch (typeof value) {
    case 'string':
      if (value.length === 0 && o.convertEmptyValues) return NULL;
      if (hasLoneSurrogate(value))
        throw new UnmarshalableError(path, 'is a string with a lone UTF-16 surrogate: it is not valid UTF-8, and would be stored altered');
      return `{"S":${json(value)}}`;
    case 'number':
      return `{"N":"${numberOf(value, o, path)}"}`;
    case 'boolean':
      return value ? '{"BOOL":true}' : '{"BOOL":false}';
    case 'bigint':
      return `{"N":"${numberText(String(value), path)}"}`;
    case 'object':
      return value === null ? NULL : objectToJson(value, o, path);
    case 'undefined':
      throw new UnmarshalableError(path, 'is undefined (pass marshallOptions.removeUndefinedValues to leave such attributes out)');
    default:
      throw new UnmarshalableError(path, `is a ${typeof value}, which DynamoDB cannot hold`);
  }
}

function objectToJson(value: object, o: MarshalSettings, path: string): string {
  if (Array.isArray(value)) {
    let out = '';
    for (let i = 0; i < value.length; i++) {
      const element: unknown = value[i];
      if (element === undefined && o.removeUndefinedValues) continue;
      out += (out ? ',' : '') + toJson(element, o, `${path}[${i}]`);
    }
    return `{"L":[${out}]}`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return `{"M":${mapJson(value as Record<string, unknown>, o, path)}}`;
  const kind = (value as { constructor?: { name?: string } }).constructor?.name;
  if (value instanceof Set || kind === 'Set') return setToJson(value as Set<unknown>, o, path);
  if (value instanceof Map || kind === 'Map') return `{"M":${entriesJson(value as Map<unknown, unknown>, o, path)}}`;
  if (kind !== undefined && BINARY_NAMES.has(kind)) {
    const bytes = bytesOf(value as ArrayBufferView);
    return bytes.byteLength === 0 && o.convertEmptyValues ? NULL : `{"B":"${bytes.toString('base64')}"}`;
  }
  if (isNumberValue(value)) return `{"N":"${numberText(String(value), path)}"}`;
  if (value instanceof Date) {
    if (o.dates === 'iso') return `{"S":"${value.toISOString()}"}`;
    if (o.dates === 'epochMillis') return `{"N":"${value.getTime()}"}`;
    throw new UnmarshalableError(
      path,
      "is a Date, which DynamoDB has no type for: pass dates: 'iso' or 'epochMillis' to store it as text or a number",
    );
  }
  if (value instanceof Boolean || value instanceof Number || value instanceof String) return toJson(value.valueOf(), o, path);
  if (!o.convertClassInstanceToMap)
    throw new UnmarshalableError(
      path,
      `is a ${kind ?? 'class'} instance (pass marshallOptions.convertClassInstanceToMap to store its fields as a map)`,
    );
  let fields = 0;
  for (const key in value) if (typeof (value as Record<string, unknown>)[key] !== 'function') fields++;
  if (fields === 0)
    throw new UnmarshalableError(
      path,
      `is a ${kind ?? 'class'} instance with no fields, which would be stored as an empty map: convert it first`,
    );
  return `{"M":${mapJson(value as Record<string, unknown>, o, path, true)}}`;
}

/** `{"name":<value>,…}` of an object's attributes (with `inherited`, its enumerable fields and no methods). */
function mapJson(value: Record<string, unknown>, o: MarshalSettings, path: string, inherited = false): string {
  let out = '';
  if (inherited) {
    for (const key in value) {
      const v = value[key];
      if (typeof v !== 'function') out = attribute(out, key, v, o, path);
    }
  } else {
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) out = attribute(out, keys[i]!, value[keys[i]!], o, path);
  }
  return `{${out}}`;
}

/** Attribute names as JSON (`"name":`): tables repeat a few names in every item. */
const names = new Map<string, string>();

function nameJson(key: string, path: string): string {
  let text = names.get(key);
  if (text === undefined) {
    if (hasLoneSurrogate(key)) throw new UnmarshalableError(child(path, key), 'has a name with a lone UTF-16 surrogate (not valid UTF-8)');
    text = `${json(key)}:`;
    if (names.size >= 10_000) names.clear();
    names.set(key, text);
  }
  return text;
}

function attribute(out: string, key: string, v: unknown, o: MarshalSettings, path: string): string {
  if (v === undefined && o.removeUndefinedValues) return out;
  return `${out}${out ? ',' : ''}${nameJson(key, path)}${toJson(v, o, child(path, key))}`;
}

function entriesJson(value: Map<unknown, unknown>, o: MarshalSettings, path: string): string {
  let out = '';
  for (const [key, v] of value) {
    if (typeof key !== 'string') throw new UnmarshalableError(path, `is a Map with a ${typeof key} key; attribute names are strings`);
    out = attribute(out, key, v, o, path);
  }
  return `{${out}}`;
}

function setToJson(value: Set<unknown>, o: MarshalSettings, path: string): string {
  const elements = o.removeUndefinedValues ? [...value].filter((v) => v !== undefined) : [...value];
  if (elements.length === 0) {
    if (o.convertEmptyValues) return NULL;
    throw new UnmarshalableError(path, 'is an empty Set; DynamoDB has no empty sets (leave the attribute out)');
  }
  const first = elements[0];
  const of = typeof first === 'object' && first !== null ? (isNumberValue(first) ? 'number' : 'binary') : typeof first;
  const mixed = () =>
    new UnmarshalableError(path, 'is a Set of mixed types; a DynamoDB set holds only strings, only numbers or only binary');
  const texts: string[] = [];
  if (of === 'string') {
    for (const e of elements) {
      if (typeof e !== 'string') throw mixed();
      if (hasLoneSurrogate(e))
        throw new UnmarshalableError(`${path}[${texts.length}]`, 'is a string with a lone UTF-16 surrogate (not valid UTF-8)');
      texts.push(json(e));
    }
    return `{"SS":[${texts.join(',')}]}`;
  }
  if (of === 'number' || of === 'bigint') {
    for (const e of elements) {
      const at = `${path}[${texts.length}]`;
      if (typeof e === 'number') texts.push(`"${numberOf(e, o, at)}"`);
      else if (typeof e === 'bigint' || (typeof e === 'object' && e !== null && isNumberValue(e)))
        texts.push(`"${numberText(String(e), at)}"`);
      else throw mixed();
    }
    return `{"NS":[${texts.join(',')}]}`;
  }
  if (of === 'binary') {
    for (const e of elements) {
      if (typeof e !== 'object' || e === null || !isBinary(e)) throw mixed();
      texts.push(`"${bytesOf(e as ArrayBufferView).toString('base64')}"`);
    }
    return `{"BS":[${texts.join(',')}]}`;
  }
  throw new UnmarshalableError(path, `is a Set of ${of}s; a DynamoDB set holds strings, numbers or binary`);
}

/**
 * A plain item (or key) as the DynamoDB JSON text of its attribute map, `{"pk":{"S":"a"},…}` — exactly what the
 * SDK puts on the wire for util-dynamodb's `marshall(item, options)` of every value that marshals exactly. Refuses,
 * with the attribute's path, what would be silently changed or dropped: functions and symbols, a `Date` (unless
 * `dates` says how to store it), a class instance with no fields, a string that is not valid UTF-8, an integer
 * `number` beyond 2^53, a number DynamoDB cannot hold (over 38 digits, out of range), and a top-level attribute named
 * `__proto__` (the SDK cannot read it back). A nested `__proto__` stays an ordinary attribute.
 */
export function marshalJson(item: Record<string, unknown>, options: MarshalSettings): string {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new UnmarshalableError('', 'is not an object of attributes');
  if (Object.prototype.hasOwnProperty.call(item, '__proto__'))
    throw new UnmarshalableError(
      '__proto__',
      'is a top-level attribute that the AWS SDK for JavaScript cannot read back (its deserializer drops the value); nest it or rename it',
    );
  const proto = Object.getPrototypeOf(item);
  if (proto === Object.prototype || proto === null) return mapJson(item, options, '');
  const text = objectToJson(item, options, '');
  if (!text.startsWith('{"M":')) throw new UnmarshalableError('', 'is not an object of attributes');
  return text.slice(5, -1);
}

/** DynamoDB JSON text (as {@link marshalJson} writes it, or DynamoDB's own export lines) back to AttributeValues. */
export function attributeValuesOf(text: string): Record<string, AttributeValue> {
  return JSON.parse(text, binaryReviver) as Record<string, AttributeValue>;
}

/** Turns the base64 of `B` and `BS` into bytes, as the SDK's AttributeValue holds them. */
function binaryReviver(this: Record<string, unknown>, key: string, value: unknown): unknown {
  if (key === 'B' && typeof value === 'string' && Object.keys(this).length === 1) return new Uint8Array(Buffer.from(value, 'base64'));
  if (key === 'BS' && Array.isArray(value) && Object.keys(this).length === 1)
    return value.map((b: string) => new Uint8Array(Buffer.from(b, 'base64')));
  return value;
}

/**
 * Marshals a plain item (or key) as util-dynamodb's `marshall(item, options)` does for every value it keeps exactly,
 * refusing what it would change (see {@link marshalJson}, whose rules it follows: it is that text, parsed).
 */
export function marshallItem(item: Record<string, unknown>, options: MarshalSettings): Record<string, AttributeValue> {
  return attributeValuesOf(marshalJson(item, options));
}
