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

describe('marshallItem', () => {
  it('should give exactly what util-dynamodb marshall gives, value or error, for 20,000 random items', () => {
    const random = seededRandom(7);
    let fastPathItems = 0;
    for (let i = 0; i < 20_000; i++) {
      const item = { pk: `p${i}`, ...(randomValue(random, 0) as object), a: randomValue(random), b: randomValue(random, 1) };
      const options = optionSets[i % optionSets.length]!;
      const expected = outcome(() => marshall(item, options));
      expect(
        outcome(() => marshallItem(item, options)),
        JSON.stringify(item, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      ).toEqual(expected);
      if (!('error' in expected)) fastPathItems++;
    }
    expect(fastPathItems).toBeGreaterThan(1_000);
  });
});
