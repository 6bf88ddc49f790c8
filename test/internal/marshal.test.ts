import { marshall, NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { marshallItem } from '../../src/internal/marshal.js';
import { seededRandom } from '../../src/internal/random.js';

const optionSets = [
  {},
  { removeUndefinedValues: true },
  { removeUndefinedValues: true, convertClassInstanceToMap: true },
  { convertEmptyValues: true, removeUndefinedValues: true },
];

class Ticket {
  constructor(public id = 't#1') {}
}

/** Random plain and not-so-plain values, to compare with util-dynamodb's own marshall. */
function randomValue(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 2 ? 9 : 12));
  switch (pick) {
    case 0:
      return '';
    case 1:
      return `s${Math.floor(random() * 1000)}`;
    case 2:
      return Math.floor(random() * 1e6) - 5e5;
    case 3:
      return random() * 100 - 50;
    case 4:
      return random() < 0.5;
    case 5:
      return null;
    case 6:
      return undefined;
    case 7:
      return [
        Number.MAX_SAFE_INTEGER + 2,
        new Set(['a', 'b']),
        new Uint8Array([1, 2]),
        10n,
        new NumberValue('12345678901234567890123'),
        new Ticket(),
        () => 1,
      ][Math.floor(random() * 7)];
    case 8:
      return Number.NaN;
    case 9:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`k${i}`, randomValue(random, depth + 1)]));
  }
}

const outcome = (f: () => unknown) => {
  try {
    return { value: f() };
  } catch (error) {
    return { error: (error as Error).message };
  }
};

/** Whether util-dynamodb drops something of this value silently (a function), which the toolkit refuses instead. */
const hasFunction = (v: unknown): boolean =>
  typeof v === 'function' ||
  (Array.isArray(v)
    ? v.some(hasFunction)
    : typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype
      ? Object.values(v).some(hasFunction)
      : false);

describe('marshallItem', () => {
  it('should give what util-dynamodb marshall gives for 20,000 random items, and refuse what it would drop', () => {
    const random = seededRandom(7);
    let same = 0;
    for (let i = 0; i < 20_000; i++) {
      const item = { pk: `p${i}`, ...(randomValue(random, 0) as object), a: randomValue(random), b: randomValue(random, 1) };
      const options = optionSets[i % optionSets.length]!;
      const expected = outcome(() => marshall(item, options));
      const actual = outcome(() => marshallItem(item, options));
      const shown = JSON.stringify(item, (_, v) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'function' ? 'fn' : v));
      if ('error' in expected) expect(actual, shown).toHaveProperty('error');
      else if ('error' in actual) expect(hasFunction(item), `${shown}: ${actual.error}`).toBe(true);
      else {
        expect(actual.value, shown).toEqual(expected.value);
        same++;
      }
    }
    expect(same).toBeGreaterThan(1_000);
  });

  it('should refuse, naming the attribute, what would be stored altered or dropped', () => {
    const options = { removeUndefinedValues: true, convertClassInstanceToMap: true };
    const refused = (item: Record<string, unknown>) => outcome(() => marshallItem(item, options));
    expect(refused({ pk: 'a', f: () => 1 })).toEqual({ error: 'attribute f is a function, which DynamoDB cannot hold' });
    expect(refused({ pk: 'a', when: new Date(0) }).error).toMatch(/^attribute when is a Date/);
    expect(refused({ pk: 'a', m: { tags: ['x', '\uD800'] } }).error).toMatch(
      /^attribute m\.tags\[1\] is a string with a lone UTF-16 surrogate/,
    );
    expect(refused({ pk: 'a', n: 2 ** 60 }).error).toMatch(/^attribute n is 1152921504606847000, an integer beyond 2\^53/);
    expect(refused({ pk: 'a', n: 10n ** 40n + 1n }).error).toMatch(/^attribute n is not a DynamoDB number: .* 41 significant digits/);
    expect(refused({ pk: 'a', re: /x/ }).error).toMatch(/^attribute re is a RegExp instance with no fields/);
    expect(refused({ pk: 'a', s: new Set() }).error).toMatch(/^attribute s is an empty Set/);
    expect(refused({ pk: 'a', s: new Set(['a', 1]) }).error).toMatch(/^attribute s is a Set of mixed types/);
  });

  it('should store dates as asked, and keep a nested attribute named __proto__ as an attribute', () => {
    const date = new Date('2026-11-30T00:00:00.000Z');
    expect(marshallItem({ d: date }, { dates: 'iso' })).toEqual({ d: { S: '2026-11-30T00:00:00.000Z' } });
    expect(marshallItem({ d: date }, { dates: 'epochMillis' })).toEqual({ d: { N: String(date.getTime()) } });
    const item = JSON.parse('{"pk":"a","m":{"__proto__":{"x":1}}}') as Record<string, unknown>;
    const av = marshallItem(item, {});
    expect(Object.keys(av.m!.M!)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(av.m!.M, '__proto__')?.value).toEqual({ M: { x: { N: '1' } } });
    // at the top level the SDK's deserializer would drop it on the way back: refused, named
    expect(outcome(() => marshallItem(JSON.parse('{"pk":"a","__proto__":1}') as Record<string, unknown>, {})).error).toMatch(
      /^attribute __proto__ is a top-level attribute that the AWS SDK for JavaScript cannot read back/,
    );
  });

  it('should marshal a NumberValue of another copy of util-dynamodb as a number, not as a map', () => {
    class NumberValue {
      constructor(readonly value: string) {}
      toAttributeValue() {
        return { N: this.value };
      }
      toString() {
        return this.value;
      }
    }
    expect(marshallItem({ n: new NumberValue('1.0000000000000000000001') }, { convertClassInstanceToMap: true })).toEqual({
      n: { N: '1.0000000000000000000001' },
    });
  });
});
