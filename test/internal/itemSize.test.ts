import { describe, expect, it } from 'vitest';
import { itemSize, MAX_ITEM_BYTES } from '../../src/index.js';
import { numberSize } from '../../src/internal/itemSize.js';

describe('itemSize', () => {
  it('should add attribute names and values by DynamoDB rules', () => {
    expect(itemSize({ pk: 'ticket#1', n: 7 })).toBe(2 + 8 + 1 + 2);
    expect(itemSize({ s: 'ünï' })).toBe(1 + 5); // UTF-8 bytes
    expect(itemSize({ b: new Uint8Array(10) })).toBe(1 + 10); // raw bytes, not base64
    expect(itemSize({ t: true, z: null })).toBe(1 + 1 + 1 + 1);
    expect(itemSize({ ss: new Set(['a', 'bb']) })).toBe(2 + 3); // no per-element overhead (measured)
    expect(itemSize({ l: [] })).toBe(1 + 3);
    expect(itemSize({ l: ['ab', 1] })).toBe(1 + 3 + (1 + 2) + (1 + 2));
    expect(itemSize({ m: { a: 'xy' } })).toBe(1 + 3 + (1 + 1 + 2));
  });

  it('should size numbers by significant digits, one more when negative', () => {
    expect(numberSize('1')).toBe(2);
    expect(numberSize('-1')).toBe(3); // measured on DynamoDB Local
    expect(numberSize('100')).toBe(2);
    expect(numberSize('0.000123')).toBe(3);
    expect(numberSize('1e6')).toBe(2);
    expect(numberSize('-0.5')).toBe(3);
    expect(numberSize('12345678901234567890')).toBe(11);
  });

  it('should put the limit at exactly 400 KB of item size', () => {
    const exact = { pk: 'big', pad: 'x'.repeat(MAX_ITEM_BYTES - 2 - 3 - 3) };
    expect(itemSize(exact)).toBe(409_600);
    expect(itemSize({ ...exact, pad: `${exact.pad}x` })).toBe(409_601);
  });

  it('should take marshalled items too', () => {
    expect(itemSize({ pk: { S: 'ticket#1' }, n: { N: '-7' } }, { marshalled: true })).toBe(2 + 8 + 1 + 3);
  });
});
