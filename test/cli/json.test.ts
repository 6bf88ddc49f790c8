import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { jsonNumberText, parseJsonItem, toJsonLine } from '../../src/cli/json.js';
import { canonicalNumber } from '../../src/internal/numbers.js';

describe('plain JSON lines (issue 8)', () => {
  it('should parse every number exactly: a number when exact, else a bigint or a NumberValue', () => {
    const item = parseJsonItem(
      '{"id":18446744073709551615,"p":0.12345678901234567890123,"n38":12345678901234567890123456789012345678,"small":-2.5,"tiny":1e-130,"huge":9.9999999999999999999999999999999999999E+125,"list":[9007199254740993,1.0]}',
    );
    expect(item.id).toBe(18446744073709551615n);
    expect(item.p).toEqual(NumberValue.from('0.12345678901234567890123'));
    expect(item.n38).toBe(12345678901234567890123456789012345678n);
    expect(item.small).toBe(-2.5);
    expect(item.tiny).toBe(1e-130);
    expect(canonicalNumber(String(item.huge))).toBe(canonicalNumber('9.9999999999999999999999999999999999999E+125'));
    expect(item.list).toEqual([9007199254740993n, 1]);
  });

  it('should refuse a number DynamoDB cannot hold, naming where it is, and malformed JSON', () => {
    expect(() => parseJsonItem('{"a":{"b":[1,123456789012345678901234567890123456789]}}')).toThrow(
      'attribute a.b[1]: 123456789012345678901234567890123456789 has 39 significant digits; DynamoDB keeps at most 38',
    );
    expect(() => parseJsonItem('{"a":1e-400}')).toThrow(/attribute a: 1e-400 is smaller than/);
    expect(() => parseJsonItem('{"a":1,')).toThrow(/^malformed JSON: /);
    expect(() => parseJsonItem('[1]')).toThrow(/not a JSON object/);
    expect(() => parseJsonItem('{"a":1,"a":2}')).toThrow(/malformed JSON: Duplicate key 'a'/);
  });

  it('should keep an attribute named __proto__ as an ordinary attribute, nested or not', () => {
    const item = parseJsonItem('{"__proto__":{"x":1},"m":{"__proto__":18446744073709551615}}');
    expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
    expect(Object.keys(item)).toEqual(['__proto__', 'm']);
    expect(Object.getOwnPropertyDescriptor(item, '__proto__')?.value).toEqual({ x: 1 });
    expect(Object.getOwnPropertyDescriptor(item.m, '__proto__')?.value).toBe(18446744073709551615n);
    expect(toJsonLine(item)).toBe('{"__proto__":{"x":1},"m":{"__proto__":18446744073709551615}}');
  });

  it('should write every digit back, sets as arrays and binary as base64, and tell what plain JSON cannot keep', () => {
    const lost: string[] = [];
    const line = toJsonLine(
      {
        id: 18446744073709551615n,
        p: NumberValue.from('0.12345678901234567890123'),
        odd: NumberValue.from('+.5e3'),
        ns: new Set([1, 18446744073709551615n]),
        b: new Uint8Array([0, 255]),
        s: '🦄𝄞',
      },
      (kind) => lost.push(kind),
    );
    expect(line).toBe(
      '{"id":18446744073709551615,"p":0.12345678901234567890123,"odd":5e2,"ns":[1,18446744073709551615],"b":"AP8=","s":"🦄𝄞"}',
    );
    expect(lost).toEqual(['set', 'binary']);
    expect(parseJsonItem(line).p).toEqual(NumberValue.from('0.12345678901234567890123'));
  });

  it('should turn DynamoDB number text into JSON number text', () => {
    expect(jsonNumberText('12.5')).toBe('12.5');
    expect(jsonNumberText('-0.000123')).toBe('-0.000123');
    expect(jsonNumberText('.5')).toBe('5e-1');
    expect(jsonNumberText('5.')).toBe('5e0');
    expect(jsonNumberText('+1E+3')).toBe('1e3');
    expect(jsonNumberText('-0')).toBe('-0');
    expect(jsonNumberText('000')).toBe('0');
  });
});
