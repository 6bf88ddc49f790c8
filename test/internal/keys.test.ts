import { describe, expect, it } from 'vitest';
import { canonicalNumber, keyString } from '../../src/internal/keys.js';

describe('keyString', () => {
  it('should treat numbers DynamoDB sees as equal as the same key', () => {
    expect(new Set(['1', '1.0', '10e-1', '0001', '+1', '1.000e0'].map(canonicalNumber)).size).toBe(1);
    expect(canonicalNumber('-2.5')).not.toBe(canonicalNumber('2.5'));
    expect(canonicalNumber('0')).toBe(canonicalNumber('0.00'));
    expect(canonicalNumber('120')).not.toBe(canonicalNumber('12'));
  });

  it('should tell keys apart by table, type and every key attribute', () => {
    const k = (table: string, item: Record<string, object>) => keyString(table, item as never, ['pk', 'sk']);
    expect(k('A', { pk: { S: '1' }, sk: { N: '1' } })).toBe(k('A', { pk: { S: '1' }, sk: { N: '1.0' } }));
    expect(k('A', { pk: { S: '1' }, sk: { N: '1' } })).not.toBe(k('B', { pk: { S: '1' }, sk: { N: '1' } }));
    expect(k('A', { pk: { S: '1' }, sk: { N: '1' } })).not.toBe(k('A', { pk: { N: '1' }, sk: { N: '1' } }));
    expect(k('A', { pk: { S: '1' }, sk: { S: '2' } })).not.toBe(k('A', { pk: { S: '12' }, sk: { S: '' } }));
    expect(k('A', { pk: { B: new Uint8Array([1, 2]) }, sk: { S: 'x' } })).toBe(k('A', { pk: { B: Buffer.from([1, 2]) }, sk: { S: 'x' } }));
  });

  it('should not let a NUL character in one key part make two keys one (regression, review of issue 2)', () => {
    const k = (pk: string, sk: string) => keyString('A', { pk: { S: pk }, sk: { S: sk } }, ['pk', 'sk']);
    expect(k('x\u0000sy', 'z')).not.toBe(k('x', 'y\u0000sz'));
  });
});
