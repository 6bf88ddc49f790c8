import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { chunkBytes, csvColumns, csvFields, csvItem, CsvSplitter, endsQuoted } from '../../src/cli/csv.js';
import type { RawLine } from '../../src/cli/inputFiles.js';

const lines = (texts: string[], eol = '\n'): RawLine[] => texts.map((text, i) => ({ n: i + 1, text, eol }));

/** The line spans of the records the splitter makes of these lines. */
function spans(texts: string[], maxChars?: number): Array<[number, number, string?]> {
  const splitter = new CsvSplitter(maxChars);
  const chunks = [...lines(texts).flatMap((l) => splitter.push(l)), ...splitter.end()];
  return chunks.map(
    (c) => [c.lines[0]!.n, c.lines[c.lines.length - 1]!.n, ...(c.unclosed ? [c.unclosed] : [])] as [number, number, string?],
  );
}

describe('CSV records (issue 8)', () => {
  it('should tell whether a line leaves a quoted field open, as RFC 4180 reads it', () => {
    const cases: Array<[string, boolean, boolean]> = [
      ['a,b,c', false, false],
      ['a,"b,c', false, true],
      ['a,"b ""quoted"" c",d', false, false],
      ['a,"b ""', false, true], // "" is a quote inside the field, which stays open
      ['continued",d', true, false],
      ['still inside', true, true],
      ['ab"c,d', false, false], // a quote inside an unquoted field opens nothing (malformed, but one line)
      ['"x"y,"z', false, true], // after a closing quote, the next field can open again
      ['""', false, false],
      ['', true, true],
    ];
    for (const [text, quoted, expected] of cases) expect(endsQuoted(text, quoted), JSON.stringify(text)).toBe(expected);
  });

  it('should give each record its first and last line, a quoted field spanning lines', () => {
    expect(spans(['id,note', '1,"two', 'lines"', '2,plain', '3,"three', '', 'lines"', '4,x'])).toEqual([
      [1, 1],
      [2, 3],
      [4, 4],
      [5, 7],
      [8, 8],
    ]);
  });

  it('should refuse a stray opening quote alone and read every line after it again', () => {
    // the quote on line 3 is never closed: line 3 is refused, lines 4 and 5 are records of their own
    expect(spans(['id,note', '1,ok', '2,"stray', '3,fine', '4,fine'])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3, 'end'],
      [4, 4],
      [5, 5],
    ]);
    // the same when the open field grows past the size limit before the input ends
    expect(spans(['id,note', '2,"stray', '3,fine', '4,fine', '5,fine'], 12)).toEqual([
      [1, 1],
      [2, 2, 'size'],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
  });

  it('should split 40,000 lines with a stray quote near the top in linear time (issue 8: it took 58 s)', () => {
    const unquoted = ['id:N,name', ...Array.from({ length: 40_000 }, (_, i) => `${18_446_744_073_709_551_615n - BigInt(i)},name ${i}`)];
    unquoted[2] = '7,"a stray quote, never closed';
    const quoted = unquoted.map((t, i) => (i === 2 ? t : `${t},"of 40,000"`));
    const started = performance.now();
    const never = spans(unquoted); // the stray quote is never closed: line 3 alone is refused, the rest read again
    const closed = spans(quoted); // closed by the next line's first quote: lines 3 and 4 are one (malformed) record
    const elapsed = performance.now() - started;
    expect(never).toHaveLength(40_001);
    expect(never.slice(1, 5)).toEqual([
      [2, 2],
      [3, 3, 'end'],
      [4, 4],
      [5, 5],
    ]);
    expect(closed).toHaveLength(40_000);
    expect(closed.slice(1, 4)).toEqual([
      [2, 2],
      [3, 4],
      [5, 5],
    ]);
    expect(elapsed).toBeLessThan(5_000); // about 100 ms; re-parsing the rest at each line was quadratic
  });

  it('should read fields as RFC 4180 says: quotes, doubled quotes, line breaks and CRs kept, empty unquoted is no value', () => {
    expect(csvFields('a,"b, c","say ""hi""",,""')).toEqual(['a', 'b, c', 'say "hi"', null, '']);
    expect(csvFields('1,"two\r\nlines",3')).toEqual(['1', 'two\r\nlines', '3']);
    expect(csvFields('1,x\ry,3')).toEqual(['1', 'x\ry', '3']); // a CR alone is data, not a line end
    expect(csvFields('1,"x\ry",,3')).toEqual(['1', 'x\ry', null, '3']);
    expect(csvFields(',')).toEqual([null, null]);
    expect(() => csvFields('1,ab"c,3')).toThrow(/Invalid Opening Quote/);
    expect(() => csvFields('1,"x"y,3')).toThrow(/Invalid Closing Quote/);
    expect(() => csvFields('1,"x"y,3')).not.toThrow(/at line/); // csv-parse's own line count is not ours
  });

  it('should take only DynamoDB number syntax in :N columns and keep every digit', () => {
    const columns = csvColumns(['pk', 'n:N']);
    const n = (text: string) => csvItem(['k', text], columns).n;
    expect(n('12345678901234567890123456789012345678')).toBe(12345678901234567890123456789012345678n);
    expect(n('18446744073709551615')).toBe(18446744073709551615n);
    expect(n('0.12345678901234567890123')).toEqual(NumberValue.from('0.12345678901234567890123'));
    expect(n('-2.5')).toBe(-2.5);
    expect(n('1e-130')).toBe(1e-130);
    for (const bad of ['0x1F', '0b11', '0o7', ' 5', '1_000', 'Infinity', 'NaN', 'ten'])
      expect(() => n(bad), bad).toThrow(/column n: .* is not a number/);
    expect(() => n('1e-400')).toThrow(/column n: 1e-400 is smaller than DynamoDB's smallest number/);
    expect(() => n('123456789012345678901234567890123456789')).toThrow(/39 significant digits/);
  });

  it('should read :JSON columns without losing digits, and :BOOL as true or false', () => {
    const columns = csvColumns(['pk:S', 'doc:JSON', 'ok:BOOL']);
    const item = csvItem(['k', '{"id":18446744073709551615,"p":0.12345678901234567890123,"__proto__":{"x":1}}', 'TRUE'], columns);
    expect(item.doc).toEqual({ id: 18446744073709551615n, p: NumberValue.from('0.12345678901234567890123'), ['__proto__']: { x: 1 } });
    expect(Object.keys(item.doc as object)).toContain('__proto__');
    expect(item.ok).toBe(true);
    expect(() => csvItem(['k', '{"n":1e999}', 'false'], columns)).toThrow(/column doc: attribute doc.n: 1e999 is larger than/);
    expect(() => csvItem(['k', '{', 'false'], columns)).toThrow(/column doc: malformed JSON/);
    expect(() => csvItem(['k', 'null', 'yes'], columns)).toThrow(/column ok: "yes" is not true or false/);
    expect(() => csvItem(['k', 'null'], columns)).toThrow(/has 2 fields, the header has 3/);
  });

  it('should refuse a header without names, with a name twice, or with a CR in a name', () => {
    expect(() => csvColumns(['a', null])).toThrow(/column 2 has no name/);
    expect(() => csvColumns(['a', 'a:N'])).toThrow(/column a appears twice/);
    expect(() => csvColumns(['a', 'b\rc'])).toThrow(/a CR alone is not a line end/);
    expect(csvColumns(['id:N', 'x:y', 'tags:JSON'])).toEqual([
      { name: 'id', type: 'N' },
      { name: 'x:y', type: 'S' },
      { name: 'tags', type: 'JSON' },
    ]);
  });

  it('should keep the original bytes of a record, invalid UTF-8 and line ends included', () => {
    const bad = Buffer.from([0x61, 0xff, 0x62]);
    const record: RawLine[] = [
      { n: 4, text: '1,"a', eol: '\r\n' },
      { n: 5, text: bad.toString(), eol: '\n', bytes: bad },
    ];
    expect(chunkBytes(record)).toEqual(Buffer.concat([Buffer.from('1,"a\r\n'), bad]));
  });
});
