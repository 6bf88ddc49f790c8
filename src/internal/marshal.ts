import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, type marshallOptions } from '@aws-sdk/util-dynamodb';

const FALLBACK = Symbol('fallback');
type Attr = AttributeValue | typeof FALLBACK | undefined;

/**
 * The plain-JSON part of util-dynamodb's `marshall`, without its generic type probing: strings, safe numbers,
 * booleans, null, plain objects and arrays. Anything else (sets, binary, Maps, class instances, bigint,
 * NumberValue, functions, undefined that is not removed, unsafe numbers) makes the whole item go through
 * util-dynamodb's `marshall`, so the result — and every error — is exactly util-dynamodb's.
 */
function toAttr(value: unknown, options: marshallOptions): Attr {
  switch (typeof value) {
    case 'string':
      return value.length === 0 && options.convertEmptyValues ? { NULL: true } : { S: value };
    case 'number':
      if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) return FALLBACK;
      return { N: value.toString() };
    case 'boolean':
      return { BOOL: value };
    case 'object': {
      if (value === null) return { NULL: true };
      if (Array.isArray(value)) {
        const L: AttributeValue[] = [];
        for (const element of value) {
          if (element === undefined && options.removeUndefinedValues) continue;
          const attr = toAttr(element, options);
          if (attr === FALLBACK || attr === undefined) return FALLBACK;
          L.push(attr);
        }
        return { L };
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return FALLBACK;
      const M = toMap(value as Record<string, unknown>, options);
      return M === FALLBACK ? FALLBACK : { M };
    }
    default:
      return FALLBACK;
  }
}

function toMap(value: Record<string, unknown>, options: marshallOptions): Record<string, AttributeValue> | typeof FALLBACK {
  const M: Record<string, AttributeValue> = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === undefined && options.removeUndefinedValues) continue;
    const attr = toAttr(v, options);
    if (attr === FALLBACK || attr === undefined) return FALLBACK;
    M[key] = attr;
  }
  return M;
}

/** Marshals a plain item (or key) exactly as util-dynamodb's `marshall(item, options)` does, faster for plain JSON. */
export function marshallItem(item: Record<string, unknown>, options: marshallOptions): Record<string, AttributeValue> {
  const proto = Object.getPrototypeOf(item);
  if (proto === Object.prototype || proto === null) {
    const fast = toMap(item, options);
    if (fast !== FALLBACK) return fast;
  }
  return marshall(item, options) as Record<string, AttributeValue>;
}
