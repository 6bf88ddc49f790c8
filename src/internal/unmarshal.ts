import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall, type unmarshallOptions } from '@aws-sdk/util-dynamodb';
import type { Item } from '../types.js';
import { exactNumber } from './numbers.js';

/** Turns a DynamoDB item into plain JavaScript. */
export type Unmarshal = (item: Record<string, AttributeValue>) => Item;

function toNative(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return exactNumber(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return toObject(value.M);
  if (value.L !== undefined) return value.L.map(toNative);
  if (value.B !== undefined) return value.B;
  if (value.SS !== undefined) return new Set(value.SS);
  if (value.NS !== undefined) return new Set(value.NS.map(exactNumber));
  if (value.BS !== undefined) return new Set(value.BS);
  throw new Error(`an attribute value of no type DynamoDB has: ${JSON.stringify(Object.keys(value))}`);
}

function toObject(map: Record<string, AttributeValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(map)) {
    const attr = map[key];
    // the SDK's deserializer (3.11xx) keeps a top-level `__proto__` name but drops its value: say so, lose nothing silently
    if (attr === undefined)
      throw new Error(`attribute ${key} came back from the AWS SDK without a value, so the item cannot be read exactly`);
    const v = toNative(attr);
    // an attribute named __proto__ is an ordinary attribute, not the object's prototype
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/**
 * DynamoDB's values as plain JavaScript, with nothing lost: strings, booleans, null, Uint8Array, arrays, objects and
 * Sets as the SDK gives them, and each number as a `number` when that is exact, a `bigint` for a larger integer, and
 * otherwise a `NumberValue` that keeps its digits. Every one marshals back to the same DynamoDB value.
 */
export const exactUnmarshall: Unmarshal = (item) => toObject(item) as Item;

/**
 * The unmarshaller an operator or source uses: the user's `unmarshallOptions` through the SDK when given (their
 * choice, e.g. the SDK's plain numbers), else {@link exactUnmarshall}.
 */
export function unmarshallerFor(options: unmarshallOptions | undefined): Unmarshal {
  if (options === undefined) return exactUnmarshall;
  return (item) => unmarshall(item, options) as Item;
}
