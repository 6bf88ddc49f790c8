/**
 * DynamoDB numbers as text: the syntax DynamoDB accepts, the canonical form it compares by, the size it counts, and
 * the exact conversion to and from JavaScript values. DynamoDB keeps up to 38 significant digits; a JavaScript
 * `number` keeps about 17, so a number is handed out as a `number` only when that is exact.
 */
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';

/** Integers of up to 15 digits: always exact as a `number`. */
const SHORT_INTEGER = /^-?\d{1,15}$/;

/** DynamoDB's number syntax (measured on DynamoDB Local): `+1`, `.5`, `5.`, `-1.5e+3`; no spaces, hex, `_`, NaN or Infinity. */
const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** A number split into sign, significant digits (no leading or trailing zeros) and the power of ten of the last one. */
export interface Decimal {
  negative: boolean;
  /** Significant digits; `''` for zero. */
  digits: string;
  /** The value is `digits × 10^exponent`. */
  exponent: number;
}

/** Parses DynamoDB's number syntax; `undefined` when the text is not a number there. */
export function parseDecimal(text: string): Decimal | undefined {
  const match = NUMBER.exec(text);
  if (!match) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = match;
  if (int === '' && frac === '') return undefined;
  const all = int + frac;
  let start = 0;
  while (start < all.length && all.charCodeAt(start) === 48) start++;
  let end = all.length;
  while (end > start && all.charCodeAt(end - 1) === 48) end--;
  const digits = all.slice(start, end);
  if (digits === '') return { negative: false, digits: '', exponent: 0 };
  return { negative: sign === '-', digits, exponent: Number(exp) - frac.length + (all.length - end) };
}

/** The largest and smallest magnitudes DynamoDB stores, as powers of ten of the leading digit. */
const MAX_LEADING_EXPONENT = 125;
const MIN_LEADING_EXPONENT = -130;
/** Significant digits DynamoDB keeps. */
export const MAX_NUMBER_DIGITS = 38;

/** Why DynamoDB would refuse this number text, or `undefined` when it takes it. */
export function numberProblem(text: string): string | undefined {
  const d = parseDecimal(text);
  if (!d) return `${JSON.stringify(text)} is not a number (DynamoDB takes digits with an optional sign, point and exponent)`;
  if (d.digits === '') return undefined;
  if (d.digits.length > MAX_NUMBER_DIGITS) return `${text} has ${d.digits.length} significant digits; DynamoDB keeps at most 38`;
  const leading = d.exponent + d.digits.length - 1;
  if (leading > MAX_LEADING_EXPONENT) return `${text} is larger than DynamoDB's largest number (under 1E+126)`;
  if (leading < MIN_LEADING_EXPONENT) return `${text} is smaller than DynamoDB's smallest number (1E-130)`;
  return undefined;
}

/** A number as DynamoDB compares it: `1`, `1.0`, `+1` and `10e-1` give the same string. Text that is not a number is returned as it is. */
export function canonicalNumber(text: string): string {
  const d = parseDecimal(text);
  if (!d) return text;
  if (d.digits === '') return '0';
  return `${d.negative ? '-' : ''}${d.digits}e${d.exponent}`;
}

/**
 * Bytes DynamoDB counts for a number (measured on DynamoDB Local at the 400 KB limit): one per pair of decimal
 * digits, pairs aligned on the decimal point (so `1.5` is `01`·`50`, two pairs), zero pairs at both ends left out,
 * plus one, plus one more when negative. `0` is 1 byte.
 */
export function numberSize(text: string): number {
  const d = parseDecimal(text.trim());
  if (!d || d.digits === '') return 1;
  const low = d.exponent; // power of ten of the last significant digit
  const high = d.exponent + d.digits.length - 1; // of the first
  return Math.floor(high / 2) - Math.floor(low / 2) + 1 + 1 + (d.negative ? 1 : 0);
}

/**
 * A DynamoDB number as the most natural JavaScript value that holds it exactly: a `number` when the number is one
 * exactly (every safe integer, and decimals such as `0.1` whose shortest form is the same number), a `bigint` for
 * a larger integer, otherwise a `NumberValue` that keeps the text. All three marshal back to the same number.
 */
export function exactNumber(text: string): number | bigint | InstanceType<typeof NumberValue> {
  if (SHORT_INTEGER.test(text)) return Number(text);
  const d = parseDecimal(text);
  if (!d) return NumberValue.from(text);
  if (d.digits === '') return 0;
  const n = Number(text);
  if (d.exponent >= 0) {
    // an integer: a number while it is a safe one, a bigint beyond
    if (Number.isSafeInteger(n)) return n;
    return BigInt(`${d.negative ? '-' : ''}${d.digits}${'0'.repeat(d.exponent)}`);
  }
  return canonicalNumber(String(n)) === canonicalNumber(text) ? n : NumberValue.from(text);
}
