import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { from, type Observable, type OperatorFunction, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { backpressure } from '../../src/backpressure.js';
import { capacity } from '../../src/capacity.js';
import { ItemWriteError } from '../../src/errors.js';
import { increment } from '../../src/expressions.js';
import type { Progress } from '../../src/internal/progress.js';
import { dynamoDelete, type DeleteItemRequest } from '../../src/operators/dynamoDelete.js';
import { dynamoPut, type PutItemRequest } from '../../src/operators/dynamoPut.js';
import { dynamoUpdate, type UpdateItemRequest } from '../../src/operators/dynamoUpdate.js';
import { decideItem } from '../../src/internal/itemWrite/decide.js';
import { ItemQueue } from '../../src/internal/itemWrite/queue.js';
import type { ItemWriteResult } from '../../src/operators/itemWriteInternals.js';
import type { Item } from '../../src/types.js';
import { testScheduler } from '../helpers/marbles.js';

const throttled = () =>
  Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException', $retryable: { throttling: true } });
const serverError = () => Object.assign(new Error('oops'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
const validation = () => Object.assign(new Error('bad'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
const conditionFailed = (Item?: Record<string, AttributeValue>) =>
  Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', ...(Item ? { Item } : {}) });
const fast = { backoff: { baseDelayMs: 10, jitter: 'none' as const } };
const upd = (pk: string, n = 1): UpdateItemRequest => ({ key: { pk }, add: { n } });

type Input = Record<string, unknown> & { Key?: Record<string, AttributeValue>; Item?: Record<string, AttributeValue> };
interface Call {
  at: number;
  op: string;
  input: Input;
  /** `pk` of the key or item. */
  pk: string;
  signal?: AbortSignal;
}
interface Answer {
  /** `r` is the response. @default '-r|' */
  marble?: string;
  error?: unknown;
  output?: Record<string, unknown>;
}

/** A client whose `send` answers each call with a cold Observable scripted by `answer` (DescribeTable: key `pk`, or `describeError`). */
function fakeClient(
  scheduler: TestScheduler,
  cold: TestScheduler['createColdObservable'],
  answer: (call: Call, index: number) => Answer,
  describeError?: unknown,
) {
  const calls: Call[] = [];
  const client = {
    send(command: { input: Input }, options?: { abortSignal?: AbortSignal }): Observable<unknown> {
      const op = command.constructor.name.replace(/Command$/, '');
      if (op === 'DescribeTable' && describeError) return cold('-#', {}, describeError);
      if (op === 'DescribeTable')
        return cold('-r|', { r: { Table: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [] } } });
      const input = command.input;
      const pk = (input.Key ?? input.Item)?.pk?.S ?? '?';
      const call: Call = { at: scheduler.now(), op, input, pk, signal: options?.abortSignal };
      calls.push(call);
      const a = answer(call, calls.length - 1);
      if (a.error !== undefined) return cold(a.marble ?? '-#', {}, a.error);
      return cold(a.marble ?? '-r|', { r: { $metadata: {}, ...a.output } });
    },
  };
  return { client, calls };
}

type Event<R> = { at: number; result?: ItemWriteResult<R>; error?: unknown; complete?: true };

/** Runs `build` on a TestScheduler with a scripted fake client; returns the calls and what the stream did. */
function run<R>(
  answer: (call: Call, index: number) => Answer,
  build: (client: ReturnType<typeof fakeClient>['client'], scheduler: TestScheduler) => Observable<ItemWriteResult<R>>,
  { unsubscribeAt = Infinity, describeError }: { unsubscribeAt?: number; describeError?: unknown } = {},
) {
  const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
  const events: Array<Event<R>> = [];
  let fake!: ReturnType<typeof fakeClient>;
  scheduler.run(({ cold }) => {
    fake = fakeClient(scheduler, cold, answer, describeError);
    const subscription = build(fake.client, scheduler).subscribe({
      next: (result) => events.push({ at: scheduler.now(), result }),
      error: (error) => events.push({ at: scheduler.now(), error }),
      complete: () => events.push({ at: scheduler.now(), complete: true }),
    });
    if (unsubscribeAt !== Infinity) scheduler.schedule(() => subscription.unsubscribe(), unsubscribeAt);
  });
  // the last frame anything ran at: a timer left behind after unsubscribing would move it on
  return { calls: fake.calls, events, results: events.flatMap((e) => (e.result ? [e.result] : [])), lastFrame: scheduler.frame };
}

describe('decideItem', () => {
  it.each([
    ['a response', { output: {} }, 1, { kind: 'written' }],
    ['ConditionalCheckFailedException', { error: conditionFailed() }, 1, { kind: 'conditionFailed' }],
    ['a throttling error with attempts left', { error: throttled() }, 9, { kind: 'retry' }],
    ['a throttling error on the last attempt', { error: throttled() }, 10, { kind: 'failed', code: 'itemWrite.attemptsExhausted' }],
    ['an HTTP 500 with attempts left', { error: serverError() }, 1, { kind: 'retry' }],
    [
      'TransactionConflictException',
      { error: Object.assign(new Error('busy'), { name: 'TransactionConflictException' }) },
      1,
      { kind: 'retry' },
    ],
    ['ValidationException', { error: validation() }, 1, { kind: 'failed', code: 'itemWrite.nonRetryable' }],
    [
      'AbortError',
      { error: Object.assign(new Error('aborted'), { name: 'AbortError' }) },
      1,
      { kind: 'failed', code: 'itemWrite.nonRetryable' },
    ],
  ])('should decide %s', (_, answer, attempts, step) => {
    expect(decideItem(answer, attempts, 10)).toEqual(step);
  });
});

describe('ItemQueue', () => {
  it('should hold a request behind the live one for its key, and put retries and released requests first', () => {
    const q = new ItemQueue<{ key: string; n: number }>();
    const [a1, b1, a2, c1, a3] = [
      { key: 'a', n: 1 },
      { key: 'b', n: 1 },
      { key: 'a', n: 2 },
      { key: 'c', n: 1 },
      { key: 'a', n: 3 },
    ];
    expect([a1, b1, a2, c1, a3].map((e) => q.admit(e))).toEqual(['queued', 'queued', 'held', 'queued', 'held']);
    expect(q.next()).toBe(a1);
    expect(q.next()).toBe(b1);
    q.again(b1); // b1 came back throttled and its backoff is over
    expect(q.next()).toBe(b1);
    q.settled(a1); // a2 goes next, before c1
    expect(q.next()).toBe(a2);
    expect(q.next()).toBe(c1);
    expect(q.next()).toBeUndefined();
    q.settled(a2);
    expect(q.next()).toBe(a3);
    q.settled(a3);
    expect(q.admit({ key: 'a', n: 4 })).toBe('queued');
    expect(q.queued).toBe(1);
  });
});

describe('dynamoUpdate, dynamoPut, dynamoDelete (virtual time)', () => {
  it('should keep at most `concurrency` calls in flight', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const response = cold('-----r|', { r: { $metadata: {} } });
      const client = { send: () => response };
      const requests = ['a', 'b', 'c'].map((pk) => upd(pk));
      const [a, b, c] = requests.map((request) => ({ request, status: 'written', attempts: 1 }));
      expectObservable(from(requests).pipe(dynamoUpdate(client, 'T', { concurrency: 2 }))).toBe('------(ab)--(c|)', { a, b, c });
      expectSubscriptions(response.subscriptions).toBe(['^-----!', '^-----!', '------^-----!']);
    });
  });

  it('should prepare requests as the calls go: a request refused on preparation comes out when its turn comes, not before the first call', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const response = cold('-----r|', { r: { $metadata: {} } });
      const client = { send: () => response };
      // the fifth request cannot be prepared (an empty key): prepared eagerly, it would be refused at 0, before any answer
      const requests: UpdateItemRequest[] = ['a', 'b', 'c', 'd'].map((pk) => upd(pk));
      requests.push({ key: {}, add: { n: 1 } }, upd('f'));
      const seen: Array<[number, string]> = [];
      from(requests)
        .pipe(dynamoUpdate(client, 'T', { concurrency: 1 }))
        .subscribe((r) => seen.push([scheduler.now(), `${(r.request.key as { pk?: string }).pk ?? 'e'} ${r.status}`]));
      flush();
      // one call at a time, two requests prepared per slot: 'e' is prepared (and refused) when 'c' goes, at 12
      expect(seen).toEqual([
        [6, 'a written'],
        [12, 'b written'],
        [12, 'e failed'],
        [18, 'c written'],
        [24, 'd written'],
        [30, 'f written'],
      ]);
    });
  });

  it('should retry a throttled call after the backoff, doubling, and count its attempts', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('-#', {}, throttled());
      const second = cold('-#', {}, throttled());
      const third = cold('-r|', { r: { $metadata: {} } });
      const responses = [first, second, third];
      const client = { send: () => responses.shift()! };
      const request = upd('a');
      // call at 0, throttled at 1; +10 → call at 11, throttled at 12; +20 → call at 32, answered at 34
      expectObservable(from([request]).pipe(dynamoUpdate(client, 'T', fast))).toBe('34ms (r|)', {
        r: { request, status: 'written', attempts: 3 },
      });
      expectSubscriptions(first.subscriptions).toBe('^!');
      expectSubscriptions(second.subscriptions).toBe('11ms ^!');
      expectSubscriptions(third.subscriptions).toBe('32ms ^-!');
    });
  });

  it('should draw the jitter from `random`', () => {
    const { calls } = run(
      (_, i) => (i < 3 ? { error: throttled() } : {}),
      (client, scheduler) =>
        from([upd('a')]).pipe(dynamoUpdate(client, 'T', { backoff: { baseDelayMs: 10 }, random: () => 0.5, scheduler })),
    );
    // full jitter: half of 10, 20, 40
    expect(calls.map((c) => c.at)).toEqual([0, 6, 17, 38]);
  });

  it('should not hold a slot while a request waits out its backoff', () => {
    const { calls, results } = run(
      (call, i) => (i === 0 ? { error: throttled() } : { marble: call.pk === 'b' ? '-----r|' : '-r|' }),
      (client, scheduler) => from([upd('a'), upd('b')]).pipe(dynamoUpdate(client, 'T', { ...fast, concurrency: 1, scheduler })),
    );
    // a throttled at 1 waits until 11; b goes at 1 and is answered at 7; a goes again at 11
    expect(calls.map((c) => [c.at, c.pk])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [11, 'a'],
    ]);
    expect(results.map((r) => [(r.request.key as { pk: string }).pk, r.attempts])).toEqual([
      ['b', 1],
      ['a', 2],
    ]);
  });

  it('should send the requests for one key one after another, in input order, through retries', () => {
    const { calls, results } = run(
      (_, i) => (i === 0 ? { error: throttled() } : {}),
      (client, scheduler) =>
        from([upd('k', 1), upd('x'), upd('k', 2), upd('k', 3)]).pipe(dynamoUpdate(client, 'T', { ...fast, concurrency: 4, scheduler })),
    );
    expect(calls.map((c) => [c.at, c.pk, (c.input.ExpressionAttributeValues as Record<string, AttributeValue>)[':v0']!.N])).toEqual([
      [0, 'k', '1'],
      [0, 'x', '1'],
      [11, 'k', '1'],
      [13, 'k', '2'],
      [15, 'k', '3'],
    ]);
    expect(results.map((r) => r.attempts)).toEqual([1, 2, 1, 1]);
  });

  it('should build UpdateItem from plain JavaScript, marshalled exactly, with ReturnValues', () => {
    const big = 12345678901234567890123456789012345678n;
    const { calls } = run(
      () => ({}),
      (client, scheduler) =>
        from<UpdateItemRequest[]>([
          {
            key: { pk: 'a', sk: 7 },
            set: { status: 'open', views: increment('views', big) },
            remove: ['draft'],
            condition: { version: { lt: new NumberValue('0.12345678901234567890123456789') } },
            returnValues: 'ALL_NEW',
          },
        ]).pipe(dynamoUpdate(client, 'T', { scheduler, returnCurrentOnConditionFailure: true })),
    );
    expect(calls[0]!.op).toBe('UpdateItem');
    expect(calls[0]!.input).toEqual({
      TableName: 'T',
      Key: { pk: { S: 'a' }, sk: { N: '7' } },
      UpdateExpression: 'SET #n0 = :v0, #n1 = #n1 + :v1 REMOVE #n2',
      ConditionExpression: '#n3 < :v2',
      ExpressionAttributeNames: { '#n0': 'status', '#n1': 'views', '#n2': 'draft', '#n3': 'version' },
      ExpressionAttributeValues: { ':v0': { S: 'open' }, ':v1': { N: String(big) }, ':v2': { N: '0.12345678901234567890123456789' } },
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('should pass a raw update through as given, its values marshalled', () => {
    const { calls } = run(
      () => ({}),
      (client, scheduler) =>
        from<UpdateItemRequest[]>([
          {
            key: { pk: 'a' },
            UpdateExpression: 'SET #s = :s',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':s': new Set(['x', 'y']) },
          },
        ]).pipe(dynamoUpdate(client, 'T', { scheduler })),
    );
    expect(calls[0]!.input).toEqual({
      TableName: 'T',
      Key: { pk: { S: 'a' } },
      UpdateExpression: 'SET #s = :s',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': { SS: ['x', 'y'] } },
    });
  });

  it('should build PutItem and DeleteItem with their conditions, and ask for consumed capacity when told', () => {
    const put = run(
      () => ({}),
      (client, scheduler) =>
        from<PutItemRequest[]>([{ item: { pk: 'a', v: 2 }, condition: { or: [{ attributeNotExists: 'pk' }, { v: { lt: 2 } }] } }]).pipe(
          dynamoPut(client, 'T', { scheduler, keyAttributes: ['pk'], returnConsumedCapacity: 'TOTAL' }),
        ),
    );
    expect(put.calls[0]!.input).toEqual({
      TableName: 'T',
      Item: { pk: { S: 'a' }, v: { N: '2' } },
      ConditionExpression: 'attribute_not_exists(#n0) OR #n1 < :v0',
      ExpressionAttributeNames: { '#n0': 'pk', '#n1': 'v' },
      ExpressionAttributeValues: { ':v0': { N: '2' } },
      ReturnConsumedCapacity: 'TOTAL',
    });
    const del = run(
      () => ({}),
      (client, scheduler) =>
        from<DeleteItemRequest[]>([{ key: { pk: 'a' }, condition: { status: 'closed' }, returnValues: 'ALL_OLD' }]).pipe(
          dynamoDelete(client, 'T', { scheduler }),
        ),
    );
    expect(del.calls[0]!.input).toEqual({
      TableName: 'T',
      Key: { pk: { S: 'a' } },
      ConditionExpression: '#n0 = :v0',
      ExpressionAttributeNames: { '#n0': 'status' },
      ExpressionAttributeValues: { ':v0': { S: 'closed' } },
      ReturnValues: 'ALL_OLD',
    });
  });

  it('should report a failed condition as an outcome, with the current item and returned attributes unmarshalled exactly', () => {
    const digits = '12345678901234567890123456789012345678';
    const { results, events } = run(
      (call) =>
        call.pk === 'a'
          ? { error: conditionFailed({ pk: { S: 'a' }, n: { N: digits }, f: { N: '0.100000000000000000001' } }) }
          : { output: { Attributes: { n: { N: digits } }, ConsumedCapacity: { TableName: 'T', CapacityUnits: 1 } } },
      (client, scheduler) =>
        from([upd('a'), upd('b')]).pipe(
          dynamoUpdate(client, 'T', { scheduler, returnCurrentOnConditionFailure: true, returnConsumedCapacity: 'TOTAL' }),
        ),
    );
    expect(results).toStrictEqual([
      {
        request: upd('a'),
        status: 'conditionFailed',
        attempts: 1,
        current: { pk: 'a', n: BigInt(digits), f: new NumberValue('0.100000000000000000001') },
      },
      {
        request: upd('b'),
        status: 'written',
        attempts: 1,
        attributes: { n: BigInt(digits) },
        consumedCapacity: { TableName: 'T', CapacityUnits: 1 },
      },
    ]);
    expect(events.at(-1)).toEqual({ at: 2, complete: true });
  });

  it('should fail only the request DynamoDB rejects, with an error naming table and key, and go on (onFailure "emit" by default)', () => {
    const { results, events } = run(
      (call) => (call.pk === 'b' ? { error: validation() } : {}),
      (client, scheduler) => from([upd('a'), upd('b'), upd('c')]).pipe(dynamoUpdate(client, 'Tickets', { ...fast, scheduler })),
    );
    // in completion order: b's error comes back at 1, a and c are answered at 2
    expect(results.map((r) => [r.request.key.pk, r.status])).toEqual([
      ['b', 'failed'],
      ['a', 'written'],
      ['c', 'written'],
    ]);
    const error = results[0]!.error!;
    expect(error).toBeInstanceOf(ItemWriteError);
    expect(error.code).toBe('itemWrite.nonRetryable');
    expect(error.table).toBe('Tickets');
    expect(error.key).toEqual({ pk: 'b' });
    expect(error.unprocessed).toEqual([upd('b')]);
    expect(error.attempts).toBe(1);
    expect((error.cause as Error).name).toBe('ValidationException');
    expect(error.message).toMatch(/^UpdateItem on table Tickets, key pk="b" failed with ValidationException: bad\./);
    expect(events.at(-1)!.complete).toBe(true);
  });

  it('should fail a request after maxAttempts throttled calls, and say when a transient error may have applied it', () => {
    const { calls, results } = run(
      (call) => ({ error: call.pk === 'a' ? throttled() : serverError() }),
      (client, scheduler) => from([upd('a'), upd('b')]).pipe(dynamoUpdate(client, 'T', { ...fast, maxAttempts: 3, scheduler })),
    );
    expect(calls).toHaveLength(6);
    expect(results.map((r) => [r.status, r.attempts, r.error?.code])).toEqual([
      ['failed', 3, 'itemWrite.attemptsExhausted'],
      ['failed', 3, 'itemWrite.attemptsExhausted'],
    ]);
    expect(results[0]!.error!.message).toMatch(/after 3 attempts .*It was not written/);
    expect(results[1]!.error!.message).toMatch(/may have applied the write/);
  });

  it('should refuse invalid requests before any call, each named', () => {
    const { calls, results } = run(
      () => ({}),
      (client, scheduler) =>
        from([
          { key: { pk: '' }, add: { n: 1 } },
          { key: { pk: 'a' } },
          { key: { pk: 'b' }, set: { at: new Date(0) } },
          { key: { pk: 'c' }, set: { a: 1, 'a.b': 2 } },
          { key: { pk: 'd' }, UpdateExpression: 'SET x = :x', set: { y: 1 } },
          { key: { pk: 'e' }, add: { n: 1 }, returnValues: 'EVERYTHING' },
          { key: { pk: 'g' }, add: { n: 1 }, conditon: { n: 0 } },
          { key: { pk: 'h' }, add: { n: 1 }, ConditionExpression: 'attribute_exists(pk)' },
          { key: { pk: 'f' }, add: { n: 1 } },
        ] as unknown as UpdateItemRequest[]).pipe(dynamoUpdate(client, 'T', { scheduler })),
    );
    expect(calls.map((c) => c.pk)).toEqual(['f']);
    expect(results.map((r) => [r.status, r.attempts, r.error?.code, (r.error?.cause as { code?: string } | undefined)?.code])).toEqual([
      ['failed', 0, 'itemWrite.invalidRequest', 'request.invalidKey'],
      ['failed', 0, 'itemWrite.invalidRequest', 'request.malformed'],
      ['failed', 0, 'itemWrite.invalidRequest', 'request.marshallFailed'],
      ['failed', 0, 'itemWrite.invalidRequest', 'request.malformed'],
      ['failed', 0, 'itemWrite.invalidRequest', 'request.malformed'],
      ['failed', 0, 'itemWrite.invalidRequest', 'request.malformed'],
      ['failed', 0, 'itemWrite.invalidRequest', 'request.malformed'],
      ['failed', 0, 'itemWrite.invalidRequest', 'request.malformed'],
      ['written', 1, undefined, undefined],
    ]);
    // a condition misspelt, or given raw beside a plain update, is refused: never dropped, which would write anyway
    expect(results[6]!.error!.message).toMatch(/unknown field "conditon"/);
    expect(results[7]!.error!.message).toMatch(/table T, key pk="h" has ConditionExpression without a raw UpdateExpression/);
    expect(results[2]!.error!.message).toMatch(/table T, key pk="b".*Date/);
    expect(results[3]!.error!.message).toMatch(/table T, key pk="c".*overlap/);
  });

  it('should refuse a key that lacks a key attribute or has another one, given keyAttributes', () => {
    const { calls, results } = run(
      () => ({}),
      (client, scheduler) =>
        from<DeleteItemRequest[]>([{ key: { pk: 'a', sk: 1, title: 'x' } }, { key: { pk: 'b' } }, { key: { sk: 2, pk: 'c' } }]).pipe(
          dynamoDelete(client, 'T', { keyAttributes: ['pk', 'sk'], scheduler }),
        ),
    );
    expect(calls.map((c) => c.input.Key)).toEqual([{ pk: { S: 'c' }, sk: { N: '2' } }]);
    expect(results.map((r) => (r.error?.cause as { code?: string } | undefined)?.code ?? r.status)).toEqual([
      'request.invalidKey',
      'request.missingKey',
      'written',
    ]);
    expect(results[0]!.error!.message).toMatch(/has attribute "title", which is not one of its key attributes \(pk, sk\)/);
  });

  it('should refuse a put over 400 KB and a put without its key, and read the key attributes once with DescribeTable', () => {
    const { calls, results } = run(
      () => ({}),
      (client, scheduler) =>
        from<PutItemRequest[]>([
          { item: { pk: 'big', s: 'x'.repeat(400 * 1024) } },
          { item: { id: 'no pk' } },
          { item: { pk: 'ok' } },
        ]).pipe(dynamoPut(client, 'T', { scheduler })),
    );
    // DescribeTable answers at 1; only then is anything sent
    expect(calls.map((c) => [c.at, c.pk])).toEqual([[1, 'ok']]);
    expect(results.map((r) => (r.error?.cause as { code?: string } | undefined)?.code ?? r.status)).toEqual([
      'request.itemTooLarge',
      'request.missingKey',
      'written',
    ]);
  });

  it('should fail every put, naming DescribeTable, when the key attributes cannot be read', () => {
    const denied = Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    const { calls, results, events } = run(
      () => ({}),
      (client, scheduler) =>
        from<PutItemRequest[]>([{ item: { pk: 'a' } }, { item: { pk: 'b' } }]).pipe(dynamoPut(client, 'T', { scheduler })),
      { describeError: denied },
    );
    expect(calls).toEqual([]);
    expect(results.map((r) => [r.status, r.attempts, r.error?.code, r.error?.cause])).toEqual([
      ['failed', 0, 'itemWrite.nonRetryable', denied],
      ['failed', 0, 'itemWrite.nonRetryable', denied],
    ]);
    expect(results[0]!.error!.message).toMatch(/^DescribeTable of T failed with AccessDeniedException: no; .*pass keyAttributes/);
    expect(events.at(-1)).toEqual({ at: 1, complete: true });
  });

  it('should stop at the first failure with onFailure "error": calls in flight finish, every request not written is handed back', () => {
    const { calls, events } = run(
      (call) => (call.pk === 'a' ? { error: validation() } : { marble: '---r|' }),
      (client, scheduler) =>
        from([upd('a'), upd('b'), upd('c'), upd('b', 2), upd('d')]).pipe(
          dynamoUpdate(client, 'T', { ...fast, concurrency: 2, onFailure: 'error', scheduler }),
        ),
    );
    // a fails at 1; b (in flight) is answered at 4; c, the second b and d are never sent
    expect(calls.map((c) => [c.at, c.pk])).toEqual([
      [0, 'a'],
      [0, 'b'],
    ]);
    expect(events.map((e) => [e.at, e.result?.status ?? (e.error ? 'error' : 'complete')])).toEqual([
      [4, 'written'],
      [4, 'error'],
    ]);
    const error = events[1]!.error as ItemWriteError;
    expect(error).toBeInstanceOf(ItemWriteError);
    expect(error.code).toBe('itemWrite.nonRetryable');
    expect(error.key).toEqual({ pk: 'a' });
    expect(error.unprocessed).toEqual([upd('a'), upd('c'), upd('b', 2), upd('d')]);
    expect(error.message).toMatch(/4 requests taken and not written are in unprocessed/);
  });

  it('should abort the calls in flight and cancel backoff timers on unsubscribe', () => {
    const { calls, events, lastFrame } = run(
      (call) => (call.pk === 'a' ? { error: throttled() } : { marble: '----------r|' }),
      (client, scheduler) => from([upd('a'), upd('b')]).pipe(dynamoUpdate(client, 'T', { ...fast, scheduler })),
      { unsubscribeAt: 5 },
    );
    // a waits for its retry at 11, b is in flight until 11: unsubscribed at 5, neither happens
    expect(calls.map((c) => [c.at, c.pk])).toEqual([
      [0, 'a'],
      [0, 'b'],
    ]);
    expect(calls[1]!.signal!.aborted).toBe(true);
    expect(events).toEqual([]);
    expect(lastFrame).toBe(5);
  });

  it('should spend the estimated units from the budget before each call and correct them with what DynamoDB reports', () => {
    const budget = capacity({ unitsPerSecond: 1, burstSeconds: 0 });
    const { calls } = run(
      (call) => ({ output: { ConsumedCapacity: { TableName: 'T', CapacityUnits: call.pk === 'a' ? 4 : 3 } } }),
      (client, scheduler) =>
        from<PutItemRequest[]>([{ item: { pk: 'a', s: 'x'.repeat(2500) } }, { item: { pk: 'b', s: 'x'.repeat(2500) } }]).pipe(
          dynamoPut(client, 'T', { concurrency: 1, capacity: budget, keyAttributes: ['pk'], scheduler }),
        ),
    );
    // a: 3 units (2.5 KB) spent at 0; DynamoDB says 4 at 2 (an overwrite of a larger item): b waits for 4 + 3 units… of which 4 are owed
    expect(calls.map((c) => [c.at, c.input.ReturnConsumedCapacity])).toEqual([
      [0, 'TOTAL'],
      [4000, 'TOTAL'],
    ]);
    expect(budget.spent).toBe(7);
  });

  it('should report progress after every call and at the end', () => {
    const reports: Progress[] = [];
    run(
      (call, i) =>
        i === 0 ? { error: throttled() } : call.pk === 'c' ? { error: conditionFailed() } : call.pk === 'd' ? { error: validation() } : {},
      (client, scheduler) =>
        from([upd('a'), upd('b'), upd('c'), upd('d')]).pipe(
          dynamoUpdate(client, 'T', { ...fast, scheduler, onProgress: (p) => reports.push(p) }),
        ),
    );
    expect(reports).toHaveLength(6);
    expect(reports.at(-1)).toEqual({
      taken: 4,
      done: 3,
      failed: 1,
      calls: 5,
      requestAttempts: 5,
      unprocessedAttempts: 1,
      retried: 1,
      unitsConsumed: 3,
      ratePerSecond: expect.any(Number) as number,
      concurrency: 4,
      inFlight: 0,
      elapsedMs: 13,
      complete: true,
    });
  });

  it('should release the backpressure link once per settled request, failed ones too, and tell it what it holds', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const link = backpressure({ highWaterMark: 10, scheduler });
    const attach = link.attachSink.bind(link);
    const held: Array<() => number> = [];
    link.attachSink = (inFlight) => (held.push(inFlight), attach(inFlight));
    const seen: Array<[number, number]> = [];
    link.emitted(3);
    run(
      (call) => (call.pk === 'b' ? { error: validation(), marble: '---#' } : { marble: call.pk === 'a' ? '-r|' : '-----r|' }),
      (client, s) =>
        from([upd('a'), upd('b'), upd('c')]).pipe(
          dynamoUpdate(client, 'T', { scheduler: s, backpressure: link }),
          tap(() => seen.push([link.pending, held[0]!()])),
        ),
    );
    // a written at 2, b failed at 3, c written at 6: one release each
    expect(seen).toEqual([
      [2, 2],
      [1, 1],
      [0, 0],
    ]);
    expect(held).toHaveLength(1);
  });

  it('should validate its options when created, naming the bad value', () => {
    const client = { send: () => from([{}]) };
    expect(() => dynamoUpdate(client, 'T', { concurrency: 0 })).toThrow(new RangeError('concurrency must be an integer >= 1, got 0'));
    expect(() => dynamoUpdate(client, 'T', { concurrency: 'adaptive' as unknown as number })).toThrow(/got adaptive/);
    expect(() => dynamoPut(client, 'T', { maxAttempts: 1.5 })).toThrow(new RangeError('maxAttempts must be an integer >= 1, got 1.5'));
    expect(() => dynamoDelete(client, 'T', { onFailure: 'ignore' as 'emit' })).toThrow(/onFailure must be 'emit' or 'error', got ignore/);
    expect(() => dynamoDelete(client, 'T', { backoff: { baseDelayMs: -1 } })).toThrow(RangeError);
    expect(() => dynamoUpdate(client, 'T', { capacity: { unitsPerSecond: 0 } })).toThrow(/unitsPerSecond must be a number > 0, got 0/);
    expect(() => dynamoUpdate(client, 'T', { random: 0.5 as unknown as () => number })).toThrow(TypeError);
    expect(() => dynamoPut(client, 'T', { keyAttributes: [] })).toThrow(/keyAttributes/);
    expect(() => dynamoUpdate(client, '')).toThrow(RangeError);
  });

  it('should infer the request and result types', () => {
    const client = { send: () => from([{}]) };
    expectTypeOf(dynamoUpdate<{ pk: string }>(client, 'T')).toEqualTypeOf<
      OperatorFunction<UpdateItemRequest<{ pk: string }>, ItemWriteResult<UpdateItemRequest<{ pk: string }>, Item>>
    >();
    type Ticket = { pk: string; v: number };
    expectTypeOf(dynamoPut<Ticket>(client, 'T')).toEqualTypeOf<
      OperatorFunction<PutItemRequest<Ticket>, ItemWriteResult<PutItemRequest<Ticket>, Ticket>>
    >();
    expectTypeOf<ItemWriteResult<DeleteItemRequest>['status']>().toEqualTypeOf<'written' | 'conditionFailed' | 'failed'>();
    // @ts-expect-error a raw update takes no plain-object clauses
    const mixed: UpdateItemRequest = { key: { pk: 'a' }, UpdateExpression: 'SET a = :a', set: { b: 1 } };
    expect(mixed).toBeDefined();
  });
});
