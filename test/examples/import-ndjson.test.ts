import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { importNdjson, type DeadLetter } from '../../examples/import-ndjson.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll, uniqueTable } from '../helpers/tables.js';

describe('examples/import-ndjson.ts', () => {
  const dirs: string[] = [];
  afterEach(() => Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true }))));

  it('should write every good line and send malformed lines and rejected items to the dead-letter file, with their line numbers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'import-ndjson-test-'));
    dirs.push(dir);
    const file = join(dir, 'tickets.ndjson');
    const good = Array.from({ length: 600 }, (_, i) => ({ id: `ticket#${i}`, title: `Ticket ${i}`, tags: ['a', i], open: i % 2 === 0 }));
    const lines = good.map((ticket) => JSON.stringify(ticket));
    const bad: Array<[number, string]> = [
      [3, '{"id": "ticket#broken", "title": '], // not JSON
      [50, '[1, 2, 3]'], // JSON, not an object
      [51, '"just a string"'],
      [120, JSON.stringify({ title: 'no id' })], // no key
      [300, JSON.stringify({ id: '', title: 'empty id' })], // empty key
      [450, JSON.stringify({ id: 42, title: 'number id' })], // a number for a string key
      [599, JSON.stringify({ id: 'huge', blob: 'x'.repeat(410_000) })], // over 400 KB
    ];
    for (const [line, raw] of bad) lines.splice(line - 1, 0, raw); // in ascending order: each lands on its line number
    lines.splice(200, 0, ''); // a blank line (line 201) is skipped
    const fixLine = (n: number) => (n >= 201 ? n + 1 : n); // the bad lines after it moved down by one
    await writeFile(file, `${lines.join('\n')}\n`);
    const deadLetterFile = join(dir, 'dead.ndjson');

    const outcome = await importNdjson(inject('dynamoEndpoint'), { file, deadLetterFile, table: uniqueTable('Import') });

    expect(outcome).toMatchObject({ lines: 608, written: 600, deadLettered: 7 });
    const client = localClient(inject('dynamoEndpoint'));
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));
    expect((await scanAll(client, outcome.table)).sort(byId)).toEqual([...good].sort(byId));
    client.destroy();

    const deadLetters = (await readFile(deadLetterFile, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as DeadLetter)
      .sort((a, b) => a.line - b.line);
    expect(deadLetters.map(({ line, raw }) => ({ line, raw }))).toEqual(bad.map(([line, raw]) => ({ line: fixLine(line), raw })));
    expect(deadLetters.map((d) => d.error.split(':')[0])).toEqual([
      'SyntaxError',
      'NotAnObject',
      'NotAnObject',
      'request.missingKey',
      'request.invalidKey',
      'request.invalidKey',
      'request.itemTooLarge',
    ]);
  });
});
