import { describe, expect, it } from 'vitest';
import { map, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import * as toolkit from 'rxjs-dynamodb';
import { dynamoParallelScan, dynamoScan, dynamoScanPages, SourceError } from 'rxjs-dynamodb';
import { fakeScanClient } from '../helpers/fakeScanClient.js';

const pages = [[{ pk: 'a' }, { pk: 'b' }], [{ pk: 'c' }], [{ pk: 'd' }, { pk: 'e' }]];
const throttled = () =>
  Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
const newScheduler = () => new TestScheduler((a, e) => expect(a).toStrictEqual(e));

describe('scanPages (virtual time)', () => {
  it('should ask for each next page when the previous one came back, and stop after the last', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, pages);
      const result = dynamoScanPages(fake.client, { TableName: 'T' }).pipe(map((p) => p.items.map((i) => i.pk).join('')));
      // each call answers 2 frames after it starts; the last page completes the source at +3
      expectObservable(result).toBe('--x-y-z|', { x: 'ab', y: 'c', z: 'de' });
    });
  });

  it('should fetch a throttled page again after the exact backoff delay', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, pages, {
        answer: (i) => (i === 1 || i === 2 ? { error: throttled() } : undefined),
      });
      const seen: Array<[number, unknown]> = [];
      dynamoScan(fake.client, { TableName: 'T' }, { backoff: { baseDelayMs: 10, jitter: 'none' }, scheduler }).subscribe((i) =>
        seen.push([scheduler.now(), i.pk]),
      );
      flush();
      // page 0 at 0 (answer 2); page 1 at 2 fails at 3, waits 10; at 13 fails at 14, waits 20; at 34 answers at 36
      expect(fake.scans.map((s) => [s.at, s.page])).toEqual([
        [0, 0],
        [2, 1],
        [13, 1],
        [34, 1],
        [36, 2],
      ]);
      expect(seen).toEqual([
        [2, 'a'],
        [2, 'b'],
        [36, 'c'],
        [38, 'd'],
        [38, 'e'],
      ]);
    });
  });

  it('should resume from startKey', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, pages);
      const seen: unknown[] = [];
      dynamoScan(fake.client, { TableName: 'T' }, { startKey: { page: 2 } }).subscribe({
        next: (i) => seen.push(i.pk),
        complete: () => seen.push('|'),
      });
      flush();
      expect(fake.scans.map((s) => s.page)).toEqual([2]);
      expect(seen).toEqual(['d', 'e', '|']);
    });
  });

  it('should stop paging and abort the call in flight on unsubscribe', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, pages, { marble: '---r|' });
      expectObservable(dynamoScanPages(fake.client, { TableName: 'T' }).pipe(map((p) => p.count)), '^----!').toBe('---x', { x: 2 });
      flush();
      expect(fake.scans.map((s) => s.at)).toEqual([0, 3]);
      expect(fake.scans[1]!.signal?.aborted).toBe(true);
    });
  });

  it('should take only what is asked for with take(n), making no further call', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, pages);
      expectObservable(
        dynamoScan(fake.client, { TableName: 'T' }).pipe(
          take(1),
          map((i) => i.pk),
        ),
      ).toBe('--(a|)');
      flush();
      expect(fake.scans).toHaveLength(1);
    });
  });

  it('should pass the document-model input through, marshalled', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, [[]]);
      dynamoScan(fake.client, {
        TableName: 'T',
        FilterExpression: '#s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': 'open', ':n': 3 },
      }).subscribe();
      flush();
      expect(fake.scans[0]!.input).toMatchObject({
        TableName: 'T',
        FilterExpression: '#s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'open' }, ':n': { N: '3' } },
      });
    });
  });
});

describe('source errors (issue 9)', () => {
  const missing = () => Object.assign(new Error('gone'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });

  it('should fail with a SourceError holding the key to resume from, and resume from it without reading a page twice', () => {
    const scheduler = newScheduler();
    let error: SourceError | undefined;
    const seen: unknown[] = [];
    scheduler.run(({ cold, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, pages, { answer: (i) => (i === 2 ? { error: missing() } : undefined) });
      dynamoScan(fake.client, { TableName: 'T' }, { scheduler }).subscribe({
        next: (i) => seen.push(i.pk),
        error: (e: SourceError) => (error = e),
      });
      flush();
    });
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(error).toBeInstanceOf(SourceError);
    expect(error!.code).toBe('source.pageFailed');
    expect((error!.cause as Error).name).toBe('ResourceNotFoundException');
    expect(error!.startKey).toEqual({ page: 2 });
    expect(error!.message).toMatch(/^Scan of T failed with ResourceNotFoundException: gone\. It stopped after the last page emitted/);

    const rest: unknown[] = [];
    scheduler.run(({ cold, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, pages);
      dynamoScan(fake.client, { TableName: 'T' }, { scheduler, startKey: error!.startKey }).subscribe((i) => rest.push(i.pk));
      flush();
    });
    expect(rest).toEqual(['d', 'e']);
  });

  it('should give parallelScan the segments not finished and where each starts again', () => {
    const scheduler = newScheduler();
    let error: SourceError | undefined;
    scheduler.run(({ cold, flush }) => {
      // segments 0 and 1 read a page each; segment 1's second call fails (call 3, at 3) while segment 0's is in flight;
      // segment 2 waits (concurrency 2) and never starts
      const fake = fakeScanClient(() => scheduler.now(), cold, pages, {
        answer: (i) => (i === 3 ? { error: missing() } : undefined),
      });
      dynamoParallelScan(
        fake.client,
        { TableName: 'T' },
        { totalSegments: 3, concurrency: 2, scheduler, throughput: 'unlimited' },
      ).subscribe({
        error: (e: SourceError) => (error = e),
      });
      flush();
    });
    expect(error).toBeInstanceOf(SourceError);
    expect(error!.segments).toEqual([0, 1, 2]);
    expect(error!.startKeys).toEqual({ 0: { page: 1 }, 1: { page: 1 } });
    expect(error!.message).toMatch(/Segments 0, 1, 2 are not finished/);
  });
});

describe('source names and resuming', () => {
  it('should keep the first names (scan, scanPages, query, queryPages, parallelScan) as the same functions', () => {
    expect(toolkit.scan).toBe(toolkit.dynamoScan);
    expect(toolkit.scanPages).toBe(toolkit.dynamoScanPages);
    expect(toolkit.query).toBe(toolkit.dynamoQuery);
    expect(toolkit.queryPages).toBe(toolkit.dynamoQueryPages);
    expect(toolkit.parallelScan).toBe(toolkit.dynamoParallelScan);
  });

  it('should refuse an ExclusiveStartKey in the input of every source, when it is created: startKey is the one way', () => {
    const input = { TableName: 'T', ExclusiveStartKey: { pk: 'a' } } as unknown as toolkit.ScanInput;
    const message = /ExclusiveStartKey in the input is not supported: pass it as the startKey option/;
    const client = { send: () => Promise.resolve({}) };
    expect(() => dynamoScan(client, input)).toThrow(message);
    expect(() => dynamoScanPages(client, input)).toThrow(message);
    expect(() => toolkit.dynamoQuery(client, input)).toThrow(message);
    expect(() => toolkit.dynamoQueryPages(client, input)).toThrow(message);
    expect(() => dynamoParallelScan(client, input, { totalSegments: 2 })).toThrow(message);
  });
});
