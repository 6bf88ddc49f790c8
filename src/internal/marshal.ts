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

/** Bytes as a Uint8Array over the same memory (Buffer and Uint8Array pass as they are). */
function asBytes(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return new Uint8Array(value);
}

/** `NumberValue` from any copy of `@aws-sdk/util-dynamodb` / `lib-dynamodb` (a second copy fails `instanceof`). */
const isNumberValue = (v: object): boolean =>
  v.constructor?.name === 'NumberValue' && typeof (v as { toAttributeValue?: unknown }).toAttributeValue === 'function';

function numberText(text: string, path: string): string {
  const problem = numberProblem(text);
  if (problem) throw new UnmarshalableError(path, `is not a DynamoDB number: ${problem}`);
  return text;
}

function toAttr(value: unknown, o: MarshalSettings, path: string): AttributeValue {
  switch (typeof value) {
    case 'string':
      if (value.length === 0 && o.convertEmptyValues) return { NULL: true };
      if (hasLoneSurrogate(value))
        throw new UnmarshalableError(path, 'is a string with a lone UTF-16 surrogate: it is not valid UTF-8, and would be stored altered');
      return { S: value };
    case 'number':
      if (!Number.isFinite(value)) throw new UnmarshalableError(path, `is ${value}: DynamoDB numbers are finite`);
      if (!o.allowImpreciseNumbers && !Number.isSafeInteger(value) && Number.isInteger(value))
        throw new UnmarshalableError(
          path,
          `is ${value}, an integer beyond 2^53 that a number cannot hold exactly: pass a bigint or a NumberValue`,
        );
      if (value !== 0 && (Math.abs(value) >= 1e126 || Math.abs(value) < 1e-130))
        throw new UnmarshalableError(path, `is ${value}, outside DynamoDB's number range (1E-130 to under 1E+126)`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'bigint':
      return { N: numberText(String(value), path) };
    case 'object':
      return value === null ? { NULL: true } : objectToAttr(value, o, path);
    case 'undefined':
      throw new UnmarshalableError(path, 'is undefined (pass marshallOptions.removeUndefinedValues to leave such attributes out)');
    default:
      throw new UnmarshalableError(path, `is a ${typeof value}, which DynamoDB cannot hold`);
  }
}

function objectToAttr(value: object, o: MarshalSettings, path: string): AttributeValue {
  if (Array.isArray(value)) {
    const L: AttributeValue[] = [];
    for (let i = 0; i < value.length; i++) {
      const element: unknown = value[i];
      if (element === undefined && o.removeUndefinedValues) continue;
      L.push(toAttr(element, o, `${path}[${i}]`));
    }
    return { L };
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return { M: mapOf(value as Record<string, unknown>, o, path) };
  const kind = (value as { constructor?: { name?: string } }).constructor?.name;
  if (value instanceof Set || kind === 'Set') return setToAttr(value as Set<unknown>, o, path);
  if (value instanceof Map || kind === 'Map') return mapToAttr(value as Map<unknown, unknown>, o, path);
  if (kind !== undefined && BINARY_NAMES.has(kind)) {
    const bytes = asBytes(value as ArrayBufferView);
    return bytes.byteLength === 0 && o.convertEmptyValues ? { NULL: true } : { B: bytes };
  }
  if (isNumberValue(value)) return { N: numberText(String(value), path) };
  if (value instanceof Date) {
    if (o.dates === 'iso') return { S: value.toISOString() };
    if (o.dates === 'epochMillis') return { N: String(value.getTime()) };
    throw new UnmarshalableError(
      path,
      "is a Date, which DynamoDB has no type for: pass dates: 'iso' or 'epochMillis' to store it as text or a number",
    );
  }
  if (value instanceof Boolean || value instanceof Number || value instanceof String) return toAttr(value.valueOf(), o, path);
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
  return { M: mapOf(value as Record<string, unknown>, o, path, true) };
}

/** Sets an attribute; one named `__proto__` stays an ordinary attribute, not the object's prototype. */
function put(M: Record<string, AttributeValue>, key: string, value: AttributeValue): void {
  if (key === '__proto__') Object.defineProperty(M, key, { value, enumerable: true, writable: true, configurable: true });
  else M[key] = value;
}

/** A map of attribute values (a plain object: V8 keeps prototype-less objects in slow dictionary mode). */
function mapOf(value: Record<string, unknown>, o: MarshalSettings, path: string, inherited = false): Record<string, AttributeValue> {
  const M: Record<string, AttributeValue> = {};
  const keys = inherited ? keysIn(value) : Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = value[key];
    if (v === undefined && o.removeUndefinedValues) continue;
    if (typeof v === 'function' && inherited) continue; // a class instance's methods are not data
    if (hasLoneSurrogate(key)) throw new UnmarshalableError(child(path, key), 'has a name with a lone UTF-16 surrogate (not valid UTF-8)');
    put(M, key, toAttr(v, o, child(path, key)));
  }
  return M;
}

function keysIn(value: object): string[] {
  const keys: string[] = [];
  for (const key in value) keys.push(key);
  return keys;
}

function mapToAttr(value: Map<unknown, unknown>, o: MarshalSettings, path: string): AttributeValue {
  const M: Record<string, AttributeValue> = {};
  for (const [key, v] of value) {
    if (typeof key !== 'string') throw new UnmarshalableError(path, `is a Map with a ${typeof key} key; attribute names are strings`);
    if (v === undefined && o.removeUndefinedValues) continue;
    put(M, key, toAttr(v, o, child(path, key)));
  }
  return { M };
}

function setToAttr(value: Set<unknown>, o: MarshalSettings, path: string): AttributeValue {
  const elements = o.removeUndefinedValues ? [...value].filter((v) => v !== undefined) : [...value];
  if (elements.length === 0) {
    if (o.convertEmptyValues) return { NULL: true };
    throw new UnmarshalableError(path, 'is an empty Set; DynamoDB has no empty sets (leave the attribute out)');
  }
  const first = elements[0];
  const of = typeof first === 'object' && first !== null ? (isNumberValue(first) ? 'number' : 'binary') : typeof first;
  const mixed = () =>
    new UnmarshalableError(path, 'is a Set of mixed types; a DynamoDB set holds only strings, only numbers or only binary');
  if (of === 'string') {
    return {
      SS: elements.map((e, i) => {
        if (typeof e !== 'string') throw mixed();
        if (hasLoneSurrogate(e))
          throw new UnmarshalableError(`${path}[${i}]`, 'is a string with a lone UTF-16 surrogate (not valid UTF-8)');
        return e;
      }),
    };
  }
  if (of === 'number' || of === 'bigint')
    return {
      NS: elements.map((e, i) => {
        if (typeof e === 'number' || typeof e === 'bigint' || (typeof e === 'object' && e !== null && isNumberValue(e))) {
          const attr = toAttr(e, o, `${path}[${i}]`);
          return attr.N!;
        }
        throw mixed();
      }),
    };
  if (of === 'binary')
    return {
      BS: elements.map((e) => {
        const kind = (e as { constructor?: { name?: string } } | null)?.constructor?.name;
        if (kind === undefined || !BINARY_NAMES.has(kind)) throw mixed();
        return asBytes(e as ArrayBufferView);
      }),
    };
  throw new UnmarshalableError(path, `is a Set of ${of}s; a DynamoDB set holds strings, numbers or binary`);
}

/**
 * Marshals a plain item (or key) as util-dynamodb's `marshall(item, options)` does for every value it keeps exactly,
 * and refuses, with the attribute's path, what it would silently change or drop: functions and symbols, a `Date`
 * (unless `dates` says how to store it), a class instance with no fields, a string that is not valid UTF-8, an
 * integer `number` beyond 2^53, a number DynamoDB cannot hold (over 38 digits, out of range), and a top-level
 * attribute named `__proto__` (the SDK cannot read it back). A nested `__proto__` stays an ordinary attribute.
 */
export function marshallItem(item: Record<string, unknown>, options: MarshalSettings): Record<string, AttributeValue> {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new UnmarshalableError('', 'is not an object of attributes');
  if (Object.prototype.hasOwnProperty.call(item, '__proto__'))
    throw new UnmarshalableError(
      '__proto__',
      'is a top-level attribute that the AWS SDK for JavaScript cannot read back (its deserializer drops the value); nest it or rename it',
    );
  const attr = objectToAttr(item, options, '');
  if (attr.M === undefined) throw new UnmarshalableError('', 'is not an object of attributes');
  return attr.M;
}
