import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { marshallItem } from '../../src/internal/marshal.js';
import { canonicalNumber, exactNumber, numberProblem, numberSize, parseDecimal } from '../../src/internal/numbers.js';

describe('DynamoDB numbers', () => {
  it('should accept exactly the number syntax DynamoDB Local accepts', () => {
    // each measured on DynamoDB Local 3.3.0 (PutItem with { N: text })
    for (const ok of ['+1', '.5', '5.', '-.5', '1e5', '1E+5', '1e+05', '00012', '-0', '0.000', '1.', '+.5e-3', '1e-130'])
      expect(numberProblem(ok), ok).toBeUndefined();
    expect(numberProblem('9.9999999999999999999999999999999999999E+125')).toBeUndefined();
    expect(numberProblem('12345678901234567890123456789012345678')).toBeUndefined();
    for (const bad of [' 1', '1 ', '0x1F', '0b11', '1_000', 'NaN', 'Infinity', '-Infinity', '', '-', '1e', 'e5', '1,5'])
      expect(numberProblem(bad), bad).toMatch(/is not a number/);
    expect(numberProblem('1e126')).toMatch(/larger than/);
    expect(numberProblem('1e-131')).toMatch(/smaller than/);
    expect(numberProblem('1e-400')).toMatch(/smaller than/);
    expect(numberProblem('123456789012345678901234567890123456789')).toMatch(/39 significant digits/);
  });

  it('should compare numbers as DynamoDB does', () => {
    expect(canonicalNumber('1')).toBe(canonicalNumber('1.0'));
    expect(canonicalNumber('+1')).toBe(canonicalNumber('10e-1'));
    expect(canonicalNumber('-0')).toBe('0');
    expect(canonicalNumber('1.0000000000000000000001')).not.toBe(canonicalNumber('1.0000000000000000000002'));
    expect(parseDecimal('1.50e2')).toEqual({ negative: false, digits: '15', exponent: 1 });
  });

  it('should size numbers by digit pairs aligned on the decimal point, as measured on DynamoDB Local', () => {
    // (text, bytes) measured on DynamoDB Local 3.3.0: the largest padding an item at 409,600 B still took
    const measured: Array<[string, number]> = [
      ['1', 2],
      ['1.5', 3],
      ['-1', 3],
      ['-1.5', 4],
      ['0.5', 2],
      ['15', 2],
      ['150', 3],
      ['1.05', 3],
      ['10.5', 3],
      ['105', 3],
      ['1050', 3],
      ['0.05', 2],
      ['0.005', 2],
      ['12.34', 3],
      ['123.4', 4],
      ['1234.5', 4],
      ['-0.5', 3],
      ['0.1', 2],
      ['0.01', 2],
      ['0.001', 2],
      ['1e6', 2],
      ['1e7', 2],
      ['1e-6', 2],
      ['1e-7', 2],
      ['12345678901234567890', 11],
      ['1.2345678901234567890123', 13],
      ['99', 2],
      ['999', 3],
      ['9.9', 3],
      ['0', 1],
      ['-0', 1],
      ['12', 2],
      ['123', 3],
      ['1234', 3],
      ['12345', 4],
      ['3.14159', 5],
    ];
    for (const [text, bytes] of measured) expect(numberSize(text), text).toBe(bytes);
  });

  it('should hand out a number as a number only when that is exact', () => {
    expect(exactNumber('42')).toBe(42);
    expect(exactNumber('-0.5')).toBe(-0.5);
    expect(exactNumber('0.1')).toBe(0.1);
    expect(exactNumber('1e300')).toBe(10n ** 300n);
    expect(exactNumber('9007199254740993')).toBe(9007199254740993n);
    expect(exactNumber('18446744073709551615')).toBe(18446744073709551615n);
    expect(exactNumber('12345678901234567.5')).toEqual(NumberValue.from('12345678901234567.5'));
    expect(exactNumber('1.0000000000000000000001')).toEqual(NumberValue.from('1.0000000000000000000001'));
    expect(exactNumber('0.12345678901234567890123')).toBeInstanceOf(NumberValue);
  });

  it('should give back every DynamoDB number, through marshalling, with the same value (property)', () => {
    const decimal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^[1-9]\d{0,37}$/), fc.integer({ min: -130, max: 88 }))
      .map(([negative, digits, exponent]) => `${negative ? '-' : ''}${digits}e${exponent}`)
      .filter((text) => numberProblem(text) === undefined);
    fc.assert(
      fc.property(decimal, (text) => {
        const value = exactNumber(text);
        const back = marshallItem({ n: value }, {}).n!.N!;
        expect(canonicalNumber(back)).toBe(canonicalNumber(text));
        if (typeof value === 'number') expect(canonicalNumber(String(value))).toBe(canonicalNumber(text));
      }),
      { numRuns: 5_000 },
    );
  });
});
