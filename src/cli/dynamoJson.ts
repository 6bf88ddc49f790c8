/**
 * DynamoDB JSON, the format of DynamoDB's own export to S3: one `{"Item": {...}}` per line, each attribute an
 * AttributeValue as the DynamoDB API writes it — `{"S": "…"}`, `{"N": "123"}` (numbers as text), `{"B": "base64"}`,
 * `{"BOOL": true}`, `{"NULL": true}`, `{"M": {...}}`, `{"L": [...]}`, `{"SS": [...]}`, `{"NS": ["1", …]}`,
 * `{"BS": ["base64", …]}`. It keeps every DynamoDB value exactly: sets, binary and all 38 digits.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { isLosslessNumber, parse } from 'lossless-json';
import { marshallItem } from '../internal/marshal.js';
import { canonicalNumber, numberProblem } from '../internal/numbers.js';
import { exactUnmarshall } from '../internal/unmarshal.js';
import type { Item } from '../index.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown) => (isLosslessNumber(v) ? `the number ${String(v)}` : JSON.stringify(v)?.slice(0, 40));
const fail = (path: string, why: string): never => {
  throw new Error(`attribute ${path}: ${why}`);
};

function bytes(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) return fail(path, `B must be base64 text, got ${describe(value)}`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function numberText(value: unknown, path: string): string {
  if (typeof value !== 'string') return fail(path, `N must be a number as text ({"N": "123"}), got ${describe(value)}`);
  const problem = numberProblem(value);
  return problem ? fail(path, problem) : value;
}

/** The elements of a set: a non-empty array without duplicates (DynamoDB refuses both). */
function setOf<T>(value: unknown, path: string, type: string, element: (v: unknown, at: string) => T, identity: (t: T) => string): T[] {
  if (!Array.isArray(value) || value.length === 0) return fail(path, `${type} must be a non-empty array, got ${describe(value)}`);
  const seen = new Set<string>();
  return value.map((v, i) => {
    const t = element(v, `${path}[${i}]`);
    const id = identity(t);
    if (seen.has(id)) fail(path, `${type} holds ${describe(v)} twice; DynamoDB sets have no duplicates`);
    seen.add(id);
    return t;
  });
}

function mapOf(value: Record<string, unknown>, path: string): Record<string, AttributeValue> {
  const map: Record<string, AttributeValue> = Object.create(null);
  for (const name of Object.keys(value)) map[name] = attributeValue(value[name], path ? `${path}.${name}` : name);
  return map;
}

/** One AttributeValue in DynamoDB JSON, checked as DynamoDB would, binary decoded. */
function attributeValue(json: unknown, path: string): AttributeValue {
  const types = isObject(json) ? Object.keys(json) : [];
  if (types.length !== 1) return fail(path, `must be an AttributeValue with one type ({"S": "…"}, {"N": "1"}, …), got ${describe(json)}`);
  const type = types[0]!;
  const v = (json as Record<string, unknown>)[type];
  switch (type) {
    case 'S':
      return typeof v === 'string' ? { S: v } : fail(path, `S must be a string, got ${describe(v)}`);
    case 'N':
      return { N: numberText(v, path) };
    case 'B':
      return { B: bytes(v, path) };
    case 'BOOL':
      return typeof v === 'boolean' ? { BOOL: v } : fail(path, `BOOL must be true or false, got ${describe(v)}`);
    case 'NULL':
      return v === true ? { NULL: true } : fail(path, `NULL must be true, got ${describe(v)}`);
    case 'M':
      return isObject(v) ? { M: mapOf(v, path) } : fail(path, `M must be an object, got ${describe(v)}`);
    case 'L':
      return Array.isArray(v)
        ? { L: v.map((e, i) => attributeValue(e, `${path}[${i}]`)) }
        : fail(path, `L must be an array, got ${describe(v)}`);
    case 'SS':
      return {
        SS: setOf(
          v,
          path,
          'SS',
          (e, at) => (typeof e === 'string' ? e : fail(at, `SS elements must be strings, got ${describe(e)}`)),
          (s) => s,
        ),
      };
    case 'NS':
      return { NS: setOf(v, path, 'NS', numberText, canonicalNumber) };
    case 'BS':
      return { BS: setOf(v, path, 'BS', bytes, (b) => Buffer.from(b).toString('base64')) };
    default:
      return fail(path, `has type ${JSON.stringify(type)}; DynamoDB's are S, N, B, BOOL, NULL, M, L, SS, NS, BS`);
  }
}

/** One line of DynamoDB JSON (`{"Item": {...}}`) as an item of exact JavaScript values. */
export function parseDynamoJsonItem(text: string): Item {
  let json: unknown;
  try {
    json = parse(text);
  } catch (error) {
    throw new Error(`malformed JSON: ${(error as Error).message}`);
  }
  if (!isObject(json) || Object.keys(json).length !== 1 || !isObject(json.Item))
    throw new Error(`not a line of DynamoDB JSON ({"Item": {"pk": {"S": "…"}, …}}): ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`);
  return exactUnmarshall(mapOf(json.Item, ''));
}

/** Whether a parsed line looks like DynamoDB JSON: `{"Item": {name: {"S": …}, …}}`. */
export function looksLikeDynamoJson(item: Record<string, unknown>): boolean {
  const keys = Object.keys(item);
  if (keys.length !== 1 || keys[0] !== 'Item' || !isObject(item.Item)) return false;
  const values = Object.values(item.Item);
  return (
    values.length > 0 &&
    values.every((v) => isObject(v) && Object.keys(v).length === 1 && /^(S|N|B|BOOL|NULL|M|L|SS|NS|BS)$/.test(Object.keys(v)[0]!))
  );
}

function base64Replacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key]; // a Buffer's toJSON has already run on `value`
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value;
}

/** An item (as the sources give it) as one line of DynamoDB JSON: sets, binary and every digit kept. */
export function toDynamoJsonLine(item: Item): string {
  // marshalled nested, so that a top-level attribute the SDK could not read back is still written as it is
  const { M } = marshallItem({ Item: item }, {}).Item!;
  return JSON.stringify({ Item: M }, base64Replacer);
}
