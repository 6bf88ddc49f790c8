import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { type InputFormat, type InputRecord, readRecords, UnreadableInputError } from '../../src/cli/input.js';
import { defaultFormat, openInput } from '../../src/cli/inputFiles.js';
import { removeTempDirs, tempDir } from './helpers.js';

/** Every record of a file, read as the import reads it. */
async function read(path: string, format: InputFormat, options: { skipThrough?: number; guessed?: boolean } = {}) {
  const input = openInput(path, () => undefined);
  const state = { lastLine: 0 };
  const records: InputRecord[] = [];
  try {
    for await (const r of readRecords(input.lines, { format, skipThrough: options.skipThrough ?? 0, state, guessed: options.guessed }))
      records.push(r);
  } finally {
    input.close();
  }
  return { records, lastLine: state.lastLine, countable: input.countable };
}

const brief = (r: InputRecord) => ({ line: r.line, endLine: r.endLine, ...(r.error ? { error: r.error } : { item: r.item }) });

describe('import input (issue 8)', () => {
  const dir = tempDir();
  afterAll(removeTempDirs);

  it('should number CSV records by their lines: CRLF, a quoted field over lines, a CR alone kept as data, blank lines', async () => {
    const path = join(dir, 'lines.csv');
    writeFileSync(path, '\uFEFFpk,note,n:N\r\nk1,"two\r\nlines",1\r\n\r\nk2,bare\rcr,2\r\nk3,"x\ny",18446744073709551615\r\nk4,last,3');
    const { records, lastLine, countable } = await read(path, 'csv');
    expect(countable).toBe(true);
    expect(lastLine).toBe(8);
    expect(records.map(brief)).toEqual([
      { line: 2, endLine: 3, item: { pk: 'k1', note: 'two\r\nlines', n: 1 } },
      { line: 5, endLine: 5, item: { pk: 'k2', note: 'bare\rcr', n: 2 } },
      { line: 6, endLine: 7, item: { pk: 'k3', note: 'x\ny', n: 18446744073709551615n } },
      { line: 8, endLine: 8, item: { pk: 'k4', note: 'last', n: 3 } },
    ]);
    expect(records[0]!.text).toBe('k1,"two\r\nlines",1');
  });

  it('should refuse CSV rows with their line numbers and original text, and go on', async () => {
    const path = join(dir, 'bad.csv');
    const rows = ['pk,n:N', 'a,0x1F', 'b,1e-400', 'c,12345678901234567890123456789012345678', 'd,ab"c', 'e,"never closed', 'f,0b11', 'g,2'];
    writeFileSync(path, `${rows.join('\n')}\n`);
    const { records } = await read(path, 'csv');
    expect(records.map((r) => [r.line, r.error ?? 'ok'])).toEqual([
      [2, 'CSV: column n: "0x1F" is not a number (DynamoDB takes digits with an optional sign, point and exponent)'],
      [3, "CSV: column n: 1e-400 is smaller than DynamoDB's smallest number (1E-130)"],
      [4, 'ok'],
      [5, expect.stringMatching(/^CSV: Invalid Opening Quote/)],
      [6, expect.stringMatching(/^CSV: a quote opens a field on this line and is not closed by the end of the input/)],
      [7, expect.stringMatching(/column n: "0b11" is not a number/)],
      [8, 'ok'],
    ]);
    expect(records[2]!.item!.n).toBe(12345678901234567890123456789012345678n);
    expect(records.find((r) => r.line === 3)!.text).toBe('b,1e-400');
  });

  it('should stop on a bad CSV header without saying any line is settled', async () => {
    const path = join(dir, 'header.csv');
    writeFileSync(path, 'pk,,n:N\na,b,1\n');
    await expect(read(path, 'csv')).rejects.toThrow(UnreadableInputError);
    await expect(read(path, 'csv')).rejects.toThrow(/the CSV header \(line 1\) is bad: column 2 has no name; nothing was imported/);
  });

  it('should refuse a line that is not UTF-8 by its number, keep its bytes, and read every other line', async () => {
    const path = join(dir, 'latin1.ndjson');
    const bad = Buffer.concat([Buffer.from('{"pk":"caf'), Buffer.from([0xe9]), Buffer.from('","n":1}')]);
    writeFileSync(
      path,
      Buffer.concat([Buffer.from('{"pk":"a","n":0.12345678901234567890123}\n'), bad, Buffer.from('\n{"pk":"🦄𝄞","n":2}\n')]),
    );
    const { records } = await read(path, 'ndjson');
    expect(records.map((r) => [r.line, r.error ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, expect.stringMatching(/not valid UTF-8/)],
      [3, 'ok'],
    ]);
    expect(Buffer.from(records[1]!.base64!, 'base64')).toEqual(bad);
    expect(records[0]!.item!.n).toEqual(NumberValue.from('0.12345678901234567890123'));
    expect(records[2]!.item!.pk).toBe('🦄𝄞');
  });

  it('should refuse a CSV record with a line that is not UTF-8, keeping the bytes of the whole record', async () => {
    const path = join(dir, 'latin1.csv');
    const bad = Buffer.from([0x6e, 0xe9, 0x22, 0x2c, 0x31]); // né",1
    writeFileSync(path, Buffer.concat([Buffer.from('pk,note,n:N\r\nk1,"multi\r\n'), bad, Buffer.from('\r\nk2,ok,2\r\n')]));
    const { records } = await read(path, 'csv');
    expect(records.map((r) => [r.line, r.endLine, r.error ?? 'ok'])).toEqual([
      [2, 3, expect.stringMatching(/not valid UTF-8/)],
      [4, 4, 'ok'],
    ]);
    expect(Buffer.from(records[0]!.base64!, 'base64')).toEqual(Buffer.concat([Buffer.from('k1,"multi\r\n'), bad]));
  });

  it('should read gzip by its magic bytes, whatever the name, and skip lines up to a checkpoint', async () => {
    const path = join(dir, 'items.data');
    const text = Array.from({ length: 50 }, (_, i) => JSON.stringify({ pk: `g#${i}`, n: i })).join('\n');
    writeFileSync(path, gzipSync(text));
    const { records, countable } = await read(path, 'ndjson', { skipThrough: 45 });
    expect(countable).toBe(false);
    expect(records.map((r) => r.item!.pk)).toEqual(['g#45', 'g#46', 'g#47', 'g#48', 'g#49']);
    const cut = join(dir, 'cut.ndjson.gz');
    writeFileSync(cut, gzipSync(text).subarray(0, 100));
    await expect(read(cut, 'ndjson')).rejects.toThrow(`cannot read ${cut}: unexpected end of file`);
  });

  it("should read the folder of a DynamoDB export in its manifest's order, numbering lines on across files", async () => {
    const root = join(dir, 'exports', 'AWSDynamoDB', '01700000000000-abcdef12');
    mkdirSync(join(root, 'data'), { recursive: true });
    const line = (pk: string, n: string) => JSON.stringify({ Item: { pk: { S: pk }, n: { N: n } } });
    writeFileSync(join(root, 'data', 'second.json.gz'), gzipSync(`${line('c', '3')}\n`));
    writeFileSync(
      join(root, 'data', 'first.json.gz'),
      gzipSync(`${line('a', '18446744073709551615')}\n${line('b', '0.12345678901234567890123')}\n`),
    );
    const key = (name: string) => `my-prefix/AWSDynamoDB/01700000000000-abcdef12/data/${name}`;
    writeFileSync(
      join(root, 'manifest-files.json'),
      `${JSON.stringify({ itemCount: 2, md5Checksum: 'x', etag: 'y', dataFileS3Key: key('first.json.gz') })}\n${JSON.stringify({
        itemCount: 1,
        md5Checksum: 'x',
        etag: 'y',
        dataFileS3Key: key('second.json.gz'),
      })}\n`,
    );
    const top = join(dir, 'exports');
    expect(defaultFormat(top)).toBe('dynamodb-json');
    for (const given of [root, top]) {
      const { records } = await read(given, 'dynamodb-json');
      expect(
        records.map((r) => [r.line, r.file?.endsWith('.json.gz') && r.file.split('/').pop(), r.fileLine, r.item!.pk, r.item!.n]),
      ).toEqual([
        [1, 'first.json.gz', 1, 'a', 18446744073709551615n],
        [2, 'first.json.gz', 2, 'b', NumberValue.from('0.12345678901234567890123')],
        [3, 'second.json.gz', 1, 'c', 3],
      ]);
    }
    expect(() => openInput(dir)).toThrow(/without manifest-files.json|several/);
  });

  it('should refuse DynamoDB JSON read as NDJSON when the format was guessed', async () => {
    const path = join(dir, 'export.json');
    writeFileSync(path, `${JSON.stringify({ Item: { pk: { S: 'a' }, n: { N: '1' } } })}\n`);
    await expect(read(path, 'ndjson', { guessed: true })).rejects.toThrow(/looks like DynamoDB JSON .* --format dynamodb-json/);
    const { records } = await read(path, 'ndjson');
    expect(records[0]!.item).toEqual({ Item: { pk: { S: 'a' }, n: { N: '1' } } });
  });
});
