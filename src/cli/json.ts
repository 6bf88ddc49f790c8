/**
 * Plain JSON (NDJSON) both ways, without losing a digit: numbers are parsed as text by lossless-json and each becomes
 * the exact JavaScript value the toolkit writes (`number` when exact, else `bigint` or `NumberValue`), and they are
 * written back with all their digits. What plain JSON has no type for is written as the nearest JSON: a set as an
 * array, binary as a base64 string (a re-import gives a list and a string; DynamoDB JSON keeps them).
 */
import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';
import { canonicalNumber, exactNumber, numberProblem, parseDecimal } from '../internal/numbers.js';

/** A value of no JSON type met while writing plain JSON: a set or binary (written as an array or a base64 string). */
export type JsonLoss = 'set' | 'binary';

const child = (path: string, name: string | number) => (typeof name === 'number' ? `${path}[${name}]` : path ? `${path}.${name}` : name);

/** Replaces each number (lossless-json's text) by its exact value, in place; throws, naming the path, for a number DynamoDB cannot hold. */
function exactNumbers(value: unknown, path: string): unknown {
  if (isLosslessNumber(value)) {
    const text = (value as LosslessNumber).value;
    const problem = numberProblem(text);
    if (problem) throw new Error(`${path ? `attribute ${path}: ` : ''}${problem}`);
    return exactNumber(text);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = exactNumbers(value[i], child(path, i));
  } else if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    // an own `__proto__` (lossless-json defines it as an ordinary property) is assigned as an ordinary property too
    for (const key of Object.keys(object)) object[key] = exactNumbers(object[key], child(path, key));
  }
  return value;
}

/** Any JSON value, its numbers exact. Throws `malformed JSON: …`, or the number's problem with its path. */
export function parseJsonValue(text: string, path = ''): unknown {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new Error(`malformed JSON: ${(error as Error).message}`);
  }
  return exactNumbers(value, path);
}

/** One NDJSON line as an item (a JSON object), its numbers exact. */
export function parseJsonItem(text: string): Record<string, unknown> {
  const value = parseJsonValue(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`not a JSON object: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`);
  return value as Record<string, unknown>;
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A DynamoDB number's text as a JSON number (DynamoDB accepts `+1`, `.5`, `5.`, which JSON does not). */
export function jsonNumberText(text: string): string {
  if (JSON_NUMBER.test(text)) return text;
  const d = parseDecimal(text);
  if (!d) throw new Error(`${JSON.stringify(text)} is not a number`);
  return d.digits === '' ? '0' : canonicalNumber(text);
}

const isNumberValue = (v: object): v is { value: string } =>
  v.constructor?.name === 'NumberValue' && typeof (v as { value?: unknown }).value === 'string';

/**
 * One line of plain JSON for a value (an item, or a dead-letter record): every number with all its digits (`bigint`
 * and `NumberValue` included), a set as an array, binary as base64. `onLoss` hears of each set or binary value met.
 */
export function toJsonLine(value: unknown, onLoss?: (kind: JsonLoss) => void): string {
  return stringify(value, function (this: unknown, _key: string, v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    if (v instanceof Set) {
      onLoss?.('set');
      return [...v];
    }
    if (v instanceof Uint8Array) {
      onLoss?.('binary');
      return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    }
    if (isNumberValue(v)) return new LosslessNumber(jsonNumberText(v.value));
    return v;
  })!;
}
