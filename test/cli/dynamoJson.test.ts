import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { looksLikeDynamoJson, parseDynamoJsonItem, toDynamoJsonLine } from '../../src/cli/dynamoJson.js';
import { parseJsonItem } from '../../src/cli/json.js';

/** A line as DynamoDB's export to S3 writes it (the text of N values as DynamoDB Local gives them back). */
const EXPORT_LINE =
  '{"Item":{"pk":{"S":"🦄𝄞"},"n38":{"N":"12345678901234567890123456789012345678"},"dec":{"N":"0.12345678901234567890123"},' +
  '"neg":{"N":"-0.000123"},"u64":{"N":"18446744073709551615"},"b":{"B":"AP8B"},"eb":{"B":""},"es":{"S":""},"t":{"BOOL":true},' +
  '"nul":{"NULL":true},"ss":{"SS":["a","🦄"]},"ns":{"NS":["-1.5","18446744073709551615"]},"bs":{"BS":["AQ==","AgM="]},' +
  '"l":{"L":[{"N":"1"},{"S":"x"},{"M":{"deep":{"L":[{"NULL":true}]}}}]},"m":{"M":{"__proto__":{"S":"proto"}}}}}';

describe('DynamoDB JSON lines (issue 8)', () => {
  it('should read a line of a DynamoDB export into exact values: sets, binary, every digit', () => {
    const item = parseDynamoJsonItem(EXPORT_LINE);
    expect(item.pk).toBe('🦄𝄞');
    expect(item.n38).toBe(12345678901234567890123456789012345678n);
    expect(item.dec).toEqual(NumberValue.from('0.12345678901234567890123'));
    expect(item.u64).toBe(18446744073709551615n);
    expect(item.b).toEqual(new Uint8Array([0, 255, 1]));
    expect(item.eb).toEqual(new Uint8Array());
    expect(item.ss).toEqual(new Set(['a', '🦄']));
    expect(item.ns).toEqual(new Set([-1.5, 18446744073709551615n]));
    expect(item.bs).toEqual(new Set([new Uint8Array([1]), new Uint8Array([2, 3])]));
    expect(Object.getOwnPropertyDescriptor(item.m, '__proto__')?.value).toBe('proto');
  });

  it('should write the same line back, attribute by attribute', () => {
    expect(JSON.parse(toDynamoJsonLine(parseDynamoJsonItem(EXPORT_LINE)))).toEqual(JSON.parse(EXPORT_LINE));
  });

  it('should refuse what DynamoDB would refuse, naming the attribute', () => {
    const refused: Array<[string, RegExp]> = [
      ['{"Item":{"n":{"N":1}}}', /attribute n: N must be a number as text/],
      ['{"Item":{"n":{"N":"0x1F"}}}', /attribute n: "0x1F" is not a number/],
      ['{"Item":{"m":{"M":{"n":{"N":"123456789012345678901234567890123456789"}}}}}', /attribute m.n: .* 39 significant digits/],
      ['{"Item":{"s":{"SS":["a","a"]}}}', /attribute s: SS holds "a" twice/],
      ['{"Item":{"s":{"NS":["1","1.0"]}}}', /attribute s: NS holds "1.0" twice/],
      ['{"Item":{"s":{"SS":[]}}}', /attribute s: SS must be a non-empty array/],
      ['{"Item":{"b":{"B":"not base64!"}}}', /attribute b: B must be base64 text/],
      ['{"Item":{"x":{"S":"a","N":"1"}}}', /attribute x: must be an AttributeValue with one type/],
      ['{"Item":{"x":{"Q":"1"}}}', /attribute x: has type "Q"/],
      ['{"Item":{"l":{"L":[{"NULL":false}]}}}', /attribute l\[0\]: NULL must be true/],
      ['{"pk":{"S":"a"}}', /not a line of DynamoDB JSON/],
      ['{"Item":{"pk":{"S":"a"}}', /^malformed JSON/],
    ];
    for (const [line, expected] of refused) expect(() => parseDynamoJsonItem(line), line).toThrow(expected);
  });

  it('should recognise a DynamoDB JSON line read as plain JSON', () => {
    expect(looksLikeDynamoJson(parseJsonItem(EXPORT_LINE))).toBe(true);
    expect(looksLikeDynamoJson(parseJsonItem('{"Item":{"name":"plain"}}'))).toBe(false);
    expect(looksLikeDynamoJson(parseJsonItem('{"pk":{"S":"a"}}'))).toBe(false);
  });
});
