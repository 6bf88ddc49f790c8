/**
 * fast-check arbitraries for what real tables hold: every DynamoDB type, numbers of up to 38 digits (64-bit ids,
 * long decimals, tiny and huge exponents), sets, binary, unicode beyond the BMP, odd attribute names — and a
 * normal form to compare values by DynamoDB's own equality (numbers by value, sets unordered, bytes by content).
 */
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { canonicalNumber } from '../../src/internal/numbers.js';

const text = fc.string({ unit: 'binary', maxLength: 12 });
/** Attribute names: non-empty, with unicode, spaces, dots and `__proto__`. */
export const attributeName = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'a.b', 'status', 'name', '🦄'),
);

/** A DynamoDB number's text: up to 38 significant digits, exponent within DynamoDB's range. */
export const numberText = fc
  .tuple(fc.boolean(), fc.stringMatching(/^[1-9]\d{0,37}$/), fc.integer({ min: -120, max: 80 }))
  .map(([negative, digits, exponent]) => `${negative ? '-' : ''}${digits}e${exponent}`);

/** A number as a user holds it: a safe integer, a double, a 64-bit bigint, or a NumberValue of up to 38 digits. */
export const number = fc.oneof(
  fc.maxSafeInteger(),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter(
      (d) =>
        !Object.is(d, -0) &&
        (!Number.isInteger(d) || Number.isSafeInteger(d)) &&
        (d === 0 || (Math.abs(d) < 1e126 && Math.abs(d) >= 1e-130)),
    ),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  numberText.map((t) => NumberValue.from(t)),
);

const bytes = fc.uint8Array({ maxLength: 16 });
const uniqueBy = <T>(arb: fc.Arbitrary<T>, key: (v: T) => string) =>
  fc.uniqueArray(arb, { minLength: 1, maxLength: 5, selector: key }).map((values) => new Set(values));

/** A scalar or set attribute value. */
export const scalar: fc.Arbitrary<unknown> = fc.oneof(
  text,
  number,
  fc.boolean(),
  fc.constant(null),
  bytes,
  uniqueBy(text, (s) => s),
  uniqueBy(number, (n) => canonicalNumber(String(n))),
  uniqueBy(
    bytes.filter((b) => b.length > 0),
    (b) => Buffer.from(b).toString('hex'),
  ),
);

/** Any attribute value, lists and maps nested up to three levels. */
export const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(attributeName, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).value;

/** An item with a string key `pk` and a few attributes of any type. */
export const item = (pk: fc.Arbitrary<string> = fc.uuid()) =>
  fc.tuple(pk, fc.dictionary(attributeName, value, { maxKeys: 6, noNullPrototype: true })).map(([key, attributes]) => {
    const result: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(attributes)) {
      if (name === 'pk' || name === '__proto__') continue; // a top-level __proto__ is refused (the SDK cannot read it back)
      Object.defineProperty(result, name, { value: v, enumerable: true, writable: true, configurable: true });
    }
    result.pk = key;
    return result;
  });

/** The value in a form that is equal exactly when DynamoDB holds the same value. */
export function normal(v: unknown): unknown {
  if (typeof v === 'number' || typeof v === 'bigint') return `N:${canonicalNumber(String(v))}`;
  if (v instanceof NumberValue || (typeof v === 'object' && v?.constructor?.name === 'NumberValue'))
    return `N:${canonicalNumber(String(v))}`;
  if (v instanceof Uint8Array) return `B:${Buffer.from(v).toString('hex')}`;
  if (v instanceof Set) return { set: [...v].map((e) => JSON.stringify(normal(e))).sort() };
  if (Array.isArray(v)) return v.map(normal);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(v)) out[key] = normal((v as Record<string, unknown>)[key]);
    return out;
  }
  return v;
}
