import { describe, expect, expectTypeOf, it } from 'vitest';
import { EMPTY, from, type Observable, of, type OperatorFunction, Subject } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CapacityBudget } from '../../src/capacity.js';
import { backpressure } from '../../src/backpressure.js';
import { TransactionError } from '../../src/errors.js';
import type { Progress } from '../../src/internal/progress.js';
import {
  dynamoTransactGet,
  type TransactGetGroup,
  type TransactGetResult,
  type TransactRead,
} from '../../src/operators/dynamoTransactGet.js';
import {
  dynamoTransactWrite,
  type TransactCancelled,
  type TransactGroup,
  type TransactWriteAction,
  type TransactWriteFailure,
  type TransactWriteOptions,
  type TransactWriteResult,
  type TransactWritten,
} from '../../src/operators/dynamoTransactWrite.js';
import { decideTransact } from '../../src/internal/transact/decide.js';
import { GroupGate } from '../../src/internal/transact/gate.js';
import { canonicalJson, contentToken } from '../../src/internal/transact/token.js';
import { testScheduler } from '../helpers/marbles.js';

type Cold = TestScheduler['createColdObservable'];

interface Call {
  at: number;
  operation: string;
  token?: string;
  /** `Put T:a`, `Update T:b`, `Get T:c`, one per action. */
  actions: string[];
  input: Record<string, unknown>;
  signal?: AbortSignal;
}
interface Answer {
  /** The response's timing: `r` is the response. @default '-(r|)' */
  marble?: string;
  error?: unknown;
  output?: object;
}

const label = (entry: Record<string, { TableName: string; Key?: object; Item?: object }>) => {
  const [kind, body] = Object.entries(entry)[0]!;
  return `${kind} ${body.TableName}:${String(unmarshall((body.Key ?? body.Item) as never).pk)}`;
};

/** A client whose `send` answers the transaction calls (and DescribeTable) with cold Observables on the TestScheduler. */
function fakeTransactClient(now: () => number, cold: Cold, answer: (call: Call, index: number) => Answer = () => ({})) {
  const calls: Call[] = [];
  const describes: string[] = [];
  const client = {
    send(command: { input: Record<string, unknown>; constructor: { name: string } }, options?: { abortSignal?: AbortSignal }) {
      const name = command.constructor.name.replace(/Command$/, '');
      if (name === 'DescribeTable') {
        describes.push(command.input.TableName as string);
        if (command.input.TableName === 'Gone') return cold('-#', {}, named('ResourceNotFoundException'));
        return cold('-(r|)', {
          r: {
            Table: {
              KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
              AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            },
          },
        });
      }
      const input = command.input;
      const items = input.TransactItems as Array<Record<string, { TableName: string }>>;
      const call: Call = {
        at: now(),
        operation: name,
        token: input.ClientRequestToken as string | undefined,
        actions: items.map(label),
        input,
        signal: options?.abortSignal,
      };
      calls.push(call);
      const a = answer(call, calls.length - 1);
      if (a.error !== undefined) return cold(a.marble ?? '-#', {}, a.error);
      return cold(a.marble ?? '-(r|)', { r: { $metadata: {}, ...a.output } });
    },
  };
  return { client, calls, describes };
}

/** Runs `build` on a TestScheduler with a scripted fake client; returns the calls and what the stream did. */
function run<O>(
  answer: (call: Call, index: number) => Answer,
  build: (client: ReturnType<typeof fakeTransactClient>['client'], scheduler: TestScheduler) => Observable<O>,
  unsubscribeAt = Infinity,
) {
  const scheduler = testScheduler();
  const events: Array<{ at: number; value?: O; error?: unknown; complete?: true }> = [];
  let fake!: ReturnType<typeof fakeTransactClient>;
  scheduler.run(({ cold }) => {
    fake = fakeTransactClient(() => scheduler.now(), cold, answer);
    const subscription = build(fake.client, scheduler).subscribe({
      next: (value) => events.push({ at: scheduler.now(), value }),
      error: (error) => events.push({ at: scheduler.now(), error }),
      complete: () => events.push({ at: scheduler.now(), complete: true }),
    });
    if (unsubscribeAt !== Infinity) scheduler.schedule(() => subscription.unsubscribe(), unsubscribeAt);
  });
  return { calls: fake.calls, describes: fake.describes, events, values: events.filter((e) => 'value' in e).map((e) => e.value!) };
}

const put = (pk: string, extra: Record<string, unknown> = {}, table = 'T'): TransactWriteAction => ({ table, put: { pk, ...extra } });
const fast = (scheduler: TestScheduler, more: TransactWriteOptions = {}): TransactWriteOptions => ({
  keyAttributes: { T: ['pk'], U: ['pk'] },
  backoff: { baseDelayMs: 10, jitter: 'none' },
  scheduler,
  ...more,
});
const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 }, ...extra });
/** A TransactionCanceledException with one reason per action: a code, or a whole reason. */
const cancelled = (...reasons: Array<string | { Code: string; Message?: string; Item?: object }>) =>
  named('TransactionCanceledException', {
    CancellationReasons: reasons.map((r) => (typeof r === 'string' ? { Code: r, ...(r === 'None' ? {} : { Message: `${r} here` }) } : r)),
  });
const throttled = Object.assign(new Error('slow down'), {
  name: 'ProvisionedThroughputExceededException',
  $metadata: { httpStatusCode: 400 },
});

describe('dynamoTransactWrite (virtual time)', () => {
  it('should keep at most `concurrency` calls in flight, each holding its slot until answered', () => {
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      // one response per call, in the order the calls are made: a, b, c, d
      const responses = [0, 1, 2, 3].map(() => cold('-----(r|)', { r: { $metadata: {} } }));
      const queue = [...responses];
      const client = { send: () => queue.shift()! };
      const groups = { a: [put('a')], b: [put('b')], c: [put('c')], d: [put('d')] };
      const e1 = hot('  a-b-c-d-|', groups);
      const expected = '-----A-B--C-(D|)';
      const written = (g: keyof typeof groups, index: number) => ({
        status: 'written',
        group: groups[g],
        index,
        attempts: 1,
        token: expect.stringMatching(/^[0-9a-f]{36}$/),
      });
      expectObservable(e1.pipe(dynamoTransactWrite(client, { keyAttributes: { T: ['pk'] }, concurrency: 2 }))).toBe(expected, {
        A: written('a', 0),
        B: written('b', 1),
        C: written('c', 2),
        D: written('d', 3),
      });
      // c waits for a's slot (frame 5), d for b's (frame 7)
      expectSubscriptions(responses[0]!.subscriptions).toBe('^----!');
      expectSubscriptions(responses[1]!.subscriptions).toBe('--^----!');
      expectSubscriptions(responses[2]!.subscriptions).toBe('-----^----!');
      expectSubscriptions(responses[3]!.subscriptions).toBe('-------^----!');
    });
  });

  it('should retry a cancellation whose reasons are only conflicts after the backoff, with the same token', () => {
    const tokens: string[] = [];
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const first = cold('-#', {}, cancelled('TransactionConflict', 'None'));
      const second = cold('-(r|)', { r: { $metadata: {} } });
      const responses = [first, second];
      const client = {
        send: (command: { input: { ClientRequestToken: string } }) => {
          tokens.push(command.input.ClientRequestToken);
          return responses.shift()!;
        },
      };
      const group = [put('a'), put('b')];
      const e1 = hot('  a|', { a: group });
      const expected = '------------(A|)';
      expectObservable(
        e1.pipe(dynamoTransactWrite(client, { keyAttributes: { T: ['pk'] }, backoff: { baseDelayMs: 10, jitter: 'none' } })),
      ).toBe(expected, { A: { status: 'written', group, index: 0, attempts: 2, token: expect.any(String) } });
      // call 1 at 0 fails at 1; backoff 10; call 2 at 11 answers at 12
      expectSubscriptions(first.subscriptions).toBe('^!');
      expectSubscriptions(second.subscriptions).toBe('-----------^!');
    });
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
  });

  it('should retry conflicts, throttling and transient errors with exponential backoff, and give up after maxAttempts', () => {
    const errors = [
      named('TransactionConflictException'),
      throttled,
      named('TransactionInProgressException'),
      cancelled('ThrottlingError'),
      Object.assign(new Error('boom'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }),
    ];
    const { calls, values } = run(
      (_, i) => ({ error: errors[i] }),
      (client, scheduler) => of([put('a')]).pipe(dynamoTransactWrite(client, fast(scheduler, { maxAttempts: 5 }))),
    );
    // each answer takes 1 frame; backoff 10, 20, 40, 80
    expect(calls.map((c) => c.at)).toEqual([0, 11, 32, 73, 154]);
    expect(values).toHaveLength(1);
    const outcome = values[0] as TransactWriteFailure;
    expect(outcome).toMatchObject({ status: 'failed', index: 0, attempts: 5 });
    expect(outcome.error).toBeInstanceOf(TransactionError);
    expect(outcome.error.code).toBe('transaction.attemptsExhausted');
    expect(outcome.error.unprocessed).toEqual([[put('a')]]);
    expect(outcome.error.message).toMatch(/group 0 still failed after 5 attempts \(last InternalServerError/);
    // a 500 may have landed: the message says that re-sending is safe, because of the token
    expect(outcome.error.message).toMatch(/may have applied the group; sending the same group again within 10 minutes is safe/);
  });

  it('should map each cancellation reason to its action, name the failed condition, and not retry', () => {
    const group: TransactGroup = [
      { table: 'T', update: { add: { n: 1 } }, key: { pk: 'a' } },
      { table: 'U', delete: { pk: 'b' }, condition: { state: 'open' }, returnOnConditionFailure: true },
      { table: 'T', conditionCheck: { pk: 'c' }, condition: { attributeExists: 'pk' } },
    ];
    const { calls, values } = run(
      () => ({
        error: cancelled(
          'None',
          { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 'b' }, state: { S: 'closed' } } },
          'None',
        ),
      }),
      (client, scheduler) => of(group).pipe(dynamoTransactWrite(client, fast(scheduler))),
    );
    expect(calls).toHaveLength(1);
    expect(values).toEqual([
      {
        status: 'cancelled',
        group,
        index: 0,
        attempts: 1,
        token: calls[0]!.token,
        reasons: [
          {
            index: 1,
            action: group[1],
            code: 'ConditionalCheckFailed',
            message: 'The conditional request failed',
            item: { pk: 'b', state: 'closed' },
          },
        ],
      },
    ]);
    const wire = calls[0]!.input.TransactItems as Array<Record<string, Record<string, unknown>>>;
    expect(wire[1]!.Delete).toMatchObject({ ReturnValuesOnConditionCheckFailure: 'ALL_OLD', ConditionExpression: '#n0 = :v0' });
    expect(wire[0]!.Update).toMatchObject({ UpdateExpression: 'ADD #n0 :v0', ExpressionAttributeValues: { ':v0': { N: '1' } } });
  });

  it('should fail a group at once on a ValidationError reason or a non-retryable error, naming the action', () => {
    const { calls, values } = run(
      (call) =>
        call.actions[0] === 'Put T:a' ? { error: cancelled('None', 'ValidationError') } : { error: named('ResourceNotFoundException') },
      (client, scheduler) =>
        from([[put('a'), put('b')], [put('c')]]).pipe(dynamoTransactWrite(client, fast(scheduler, { concurrency: 1 }))),
    );
    expect(calls).toHaveLength(2);
    const [first, second] = values as Array<TransactWriteFailure>;
    expect(first!.error.code).toBe('transaction.nonRetryable');
    expect(first!.error.reasons).toEqual([{ index: 1, action: put('b'), code: 'ValidationError', message: 'ValidationError here' }]);
    expect(first!.error.message).toMatch(/action 1 \(put of table T, pk="b"\): ValidationError/);
    expect(second).toMatchObject({ status: 'failed', index: 1, attempts: 1, error: { code: 'transaction.nonRetryable' } });
  });

  it('should prepare groups as the calls go: a group refused on preparation comes out when its turn comes, not before the first call', () => {
    const groups: TransactGroup[] = [[put('a')], [put('b')], [put('c')], [put('d')], [{ table: 'T', put: { n: 1 } }], [put('f')]];
    const { events } = run(
      () => ({ marble: '-----(r|)' }),
      (client, scheduler) => from(groups).pipe(dynamoTransactWrite(client, fast(scheduler, { concurrency: 1 }))),
    );
    // one call at a time, two groups prepared per slot: group 4 (no key) is prepared, and refused, when group 2 goes
    expect(events.filter((e) => e.value).map((e) => [e.at, e.value!.index, e.value!.status])).toEqual([
      [5, 0, 'written'],
      [10, 1, 'written'],
      [10, 4, 'invalid'],
      [15, 2, 'written'],
      [20, 3, 'written'],
      [25, 5, 'written'],
    ]);
  });

  it('should refuse invalid groups before any call, naming the group and the action, and write the others', () => {
    const huge = 'x'.repeat(400_000);
    const groups: unknown[] = [
      Array.from({ length: 101 }, (_, i) => put(`k${i}`)), // 0: too many
      [put('a'), { table: 'T', update: { set: { n: 1 } }, key: { pk: 'a' } }], // 1: same item twice
      Array.from({ length: 11 }, (_, i) => put(`big${i}`, { huge })), // 2: over 4 MB
      [], // 3
      [put('ok')], // 4: fine
      [put('b'), { table: 'T', put: { pk: 'c' }, delete: { pk: 'c' } }], // 5: two kinds
      [{ table: 'T', conditionCheck: { pk: 'd' } }], // 6: no condition
      [{ table: 'T', put: { n: 1 } }], // 7: no key
      [{ table: 'T', update: { set: {} }, key: { pk: 'e' } }], // 8: empty update
      [{ table: 'T', put: { pk: 'f', at: new Date(0) } }], // 9: cannot marshal
      [put('g', { huge: 'y'.repeat(409_600) })], // 10: item over 400 KB
      [
        { table: 'T', delete: { pk: 2 } },
        { table: 'T', delete: { pk: 2n } },
      ], // 11: one number key
    ];
    const { calls, values } = run(
      () => ({}),
      (client, scheduler) => from(groups as TransactGroup[]).pipe(dynamoTransactWrite(client, fast(scheduler))),
    );
    expect(calls.map((c) => c.actions)).toEqual([['Put T:ok']]);
    const outcomes = values.filter((v) => v.status === 'invalid') as Array<TransactWriteFailure>;
    expect(outcomes.map((o) => [o.index, o.attempts, o.error.code, o.error.problem, o.error.action])).toEqual([
      [0, 0, 'transaction.invalidGroup', 'group.tooManyActions', undefined],
      [1, 0, 'transaction.invalidGroup', 'group.duplicateItem', 1],
      [2, 0, 'transaction.invalidGroup', 'group.tooLarge', undefined],
      [3, 0, 'transaction.invalidGroup', 'group.malformed', undefined],
      [5, 0, 'transaction.invalidGroup', 'action.malformed', 1],
      [6, 0, 'transaction.invalidGroup', 'action.malformed', 0],
      [7, 0, 'transaction.invalidGroup', 'action.invalidKey', 0],
      [8, 0, 'transaction.invalidGroup', 'action.invalidExpression', 0],
      [9, 0, 'transaction.invalidGroup', 'action.marshallFailed', 0],
      [10, 0, 'transaction.invalidGroup', 'action.itemTooLarge', 0],
      [11, 0, 'transaction.invalidGroup', 'group.duplicateItem', 1],
    ]);
    expect(outcomes[0]!.error.message).toMatch(/^Group 0 has 101 actions; TransactWriteItems takes at most 100/);
    expect(outcomes[1]!.error.message).toMatch(
      /action 0 \(put of table T, pk="a"\) and action 1 \(update of table T, pk="a"\) touch the same item/,
    );
    expect(outcomes[2]!.error.message).toMatch(/Group 2 is 4400\d{3} bytes by DynamoDB's transaction payload rules/);
    expect(outcomes[0]!.error.unprocessed).toEqual([groups[0]]);
    expect(values.find((v) => v.index === 4)).toMatchObject({ status: 'written' });
  });

  it('should refuse a group of exactly 4 MiB + 1 byte by the payload rules, and send one of exactly 4 MiB', () => {
    // 10 items of 400,000 B + one of 194,304 B = 4,194,304 B; the key pk=kNN is 2 + 3 bytes, the attribute d 1 byte
    const item = (i: number, size: number) => put(`k${String(i).padStart(2, '0')}`, { d: 'x'.repeat(size - 5 - 1) });
    const group = (last: number) => [...Array.from({ length: 10 }, (_, i) => item(i, 400_000)), item(10, last)];
    const { calls, values } = run(
      () => ({}),
      (client, scheduler) => from([group(194_304), group(194_305)]).pipe(dynamoTransactWrite(client, fast(scheduler))),
    );
    expect(calls).toHaveLength(1);
    expect(values.map((v) => v.status)).toEqual(['invalid', 'written']);
    expect((values[0] as TransactWriteFailure).error.message).toMatch(/is 4194305 bytes/);
  });

  it('should send groups that share an item one after another in input order, others at once', () => {
    const { calls } = run(
      () => ({ marble: '-----(r|)' }),
      (client, scheduler) =>
        from([[put('a'), put('b')], [put('c')], [put('b', {}, 'T'), put('d')], [put('b', {}, 'U')], [put('a')]]).pipe(
          dynamoTransactWrite(client, fast(scheduler, { concurrency: 8 })),
        ),
    );
    // group 2 waits for group 0 (item T:b); group 4 for group 0 too (T:a), then goes with group 2; U:b is another item
    expect(calls.map((c) => [c.at, c.actions.join(' ')])).toEqual([
      [0, 'Put T:a Put T:b'],
      [0, 'Put T:c'],
      [0, 'Put U:b'],
      [5, 'Put T:b Put T:d'],
      [5, 'Put T:a'],
    ]);
  });

  it('should not hold a slot while a group waits out its backoff', () => {
    const { calls, values } = run(
      (call, i) => (i === 0 ? { error: named('TransactionConflictException') } : { marble: '---(r|)' }),
      (client, scheduler) =>
        from([[put('a')], [put('b')], [put('c')]]).pipe(dynamoTransactWrite(client, fast(scheduler, { concurrency: 1 }))),
    );
    // a fails at 1 and waits until 11; b goes at 1, c at 4; a again at 11
    expect(calls.map((c) => [c.at, c.actions[0]])).toEqual([
      [0, 'Put T:a'],
      [1, 'Put T:b'],
      [4, 'Put T:c'],
      [11, 'Put T:a'],
    ]);
    expect(values.map((v) => [v.index, v.attempts])).toEqual([
      [1, 1],
      [2, 1],
      [0, 2],
    ]);
  });

  it('should stop on the first failure with onFailure "error": calls in flight finish, everything not settled is handed back', () => {
    const groups = [[put('a')], [put('b')], [put('c')], [put('d')], [put('e')]];
    const { calls, events } = run(
      (call) => (call.actions[0] === 'Put T:b' ? { error: named('ValidationException') } : { marble: '---(r|)' }),
      (client, scheduler) => from(groups).pipe(dynamoTransactWrite(client, fast(scheduler, { concurrency: 3, onFailure: 'error' }))),
    );
    // a, b, c go at 0; b fails at 1: nothing more starts; a and c finish at 3
    expect(calls.map((c) => c.actions[0])).toEqual(['Put T:a', 'Put T:b', 'Put T:c']);
    expect(events.filter((e) => e.value).map((e) => [e.at, e.value!.index])).toEqual([
      [3, 0],
      [3, 2],
    ]);
    const error = events.at(-1)!.error as TransactionError;
    expect(error).toBeInstanceOf(TransactionError);
    expect(error.code).toBe('transaction.nonRetryable');
    expect(error.groupIndex).toBe(1);
    expect(error.unprocessed).toEqual([groups[1], groups[3], groups[4]]);
    expect(error.message).toMatch(/The stream stopped \(onFailure: 'error'\): 3 groups taken and not settled are in unprocessed/);
  });

  it('should emit cancelled groups and go on with onFailure "error": a failed condition is an outcome', () => {
    const { values, events } = run(
      (_, i) => (i === 0 ? { error: cancelled('ConditionalCheckFailed') } : {}),
      (client, scheduler) => from([[put('a')], [put('b')]]).pipe(dynamoTransactWrite(client, fast(scheduler, { onFailure: 'error' }))),
    );
    expect(values.map((v) => v.status)).toEqual(['cancelled', 'written']);
    expect(events.at(-1)).toMatchObject({ complete: true });
  });

  it('should give identical groups the same token whatever the attribute order, and different groups different ones', () => {
    const { calls, values } = run(
      () => ({}),
      (client, scheduler) =>
        from([
          [put('a', { x: 1, y: new Set(['p', 'q']) })],
          [{ table: 'T', put: { y: new Set(['p', 'q']), x: 1, pk: 'a' } }],
          [put('a', { x: 1, y: new Set(['q', 'p']) })],
          [put('a', { x: 2, y: new Set(['p', 'q']) })],
        ]).pipe(dynamoTransactWrite(client, fast(scheduler, { concurrency: 1 }))),
    );
    const tokens = calls.map((c) => c.token);
    expect(tokens[0]).toMatch(/^[0-9a-f]{36}$/);
    expect(tokens[1]).toBe(tokens[0]);
    // DynamoDB Local compares set elements in order (a different order under one token is a mismatch)
    expect(new Set(tokens).size).toBe(3);
    expect(values.map((v) => (v as { replayOf?: number }).replayOf)).toEqual([undefined, 0, undefined, undefined]);
  });

  it('should use the token the clientRequestToken function gives, none with "none", and refuse a bad one', () => {
    const groups = [[put('a')], [put('b')], [put('c')]];
    const byFunction = run(
      () => ({}),
      (client, scheduler) =>
        from(groups).pipe(
          dynamoTransactWrite(client, fast(scheduler, { clientRequestToken: (_g, i) => (i === 2 ? 'x'.repeat(37) : `event-${i}`) })),
        ),
    );
    expect(byFunction.calls.map((c) => c.token)).toEqual(['event-0', 'event-1']);
    expect(byFunction.values.find((v) => v.index === 2)).toMatchObject({ status: 'invalid', error: { problem: 'group.invalidToken' } });
    const none = run(
      () => ({}),
      (client, scheduler) => from(groups).pipe(dynamoTransactWrite(client, fast(scheduler, { clientRequestToken: 'none' }))),
    );
    expect(none.calls.map((c) => 'ClientRequestToken' in c.input)).toEqual([false, false, false]);
  });

  it('should spend twice the write units of the group on a budget, and correct it by what DynamoDB reports', () => {
    const spent: number[] = [];
    const corrected: number[] = [];
    const budget: CapacityBudget = {
      options: { unitsPerSecond: 1 },
      spent: 0,
      unitsPerSecond: 1,
      spend: (units) => (spent.push(units), of(undefined)),
      correct: (units) => void corrected.push(units),
    };
    const { calls, values } = run(
      (_, i) => ({ output: i === 0 ? { ConsumedCapacity: [{ TableName: 'T', CapacityUnits: 9 }] } : {} }),
      (client, scheduler) =>
        from([
          [put('a', { d: 'x'.repeat(3000) }), { table: 'T', delete: { pk: 'b' } }],
          [{ table: 'T', conditionCheck: { pk: 'c' }, condition: { attributeExists: 'pk' } }],
        ]).pipe(dynamoTransactWrite(client, fast(scheduler, { capacity: budget, concurrency: 1 }))),
    );
    // 3,011 B put: 3 units, doubled; a delete: 1 unit doubled (estimated); a condition check: 2
    expect(spent).toEqual([8, 2]);
    expect(corrected).toEqual([1, 0]);
    expect(calls.map((c) => c.input.ReturnConsumedCapacity)).toEqual(['TOTAL', 'TOTAL']);
    // asked for the budget, not by the user: not in the outcome
    expect(values[0]).not.toHaveProperty('consumedCapacity');
  });

  it('should read key attributes with DescribeTable once per table, and fail the groups of a table it cannot describe', () => {
    const { describes, calls, values } = run(
      () => ({}),
      (client, scheduler) =>
        from([[put('a')], [put('b', {}, 'U'), put('c')], [put('d', {}, 'Gone')], [put('e')]]).pipe(
          dynamoTransactWrite(client, { scheduler, backoff: { baseDelayMs: 10, jitter: 'none' } }),
        ),
    );
    expect(describes).toEqual(['T', 'U', 'Gone']);
    // every group waits for the tables of the groups before it, so that groups on one item keep their order
    expect(calls.map((c) => [c.at, c.actions.join(' ')])).toEqual([
      [1, 'Put T:a'],
      [1, 'Put U:b Put T:c'],
      [1, 'Put T:e'],
    ]);
    expect(values.map((v) => [v.index, v.status])).toEqual([
      [2, 'failed'],
      [0, 'written'],
      [1, 'written'],
      [3, 'written'],
    ]);
    const failed = values[0] as TransactWriteFailure;
    expect(failed.error).toMatchObject({ code: 'transaction.nonRetryable', attempts: 0 });
    expect(failed.error.message).toMatch(/^DescribeTable of Gone failed with ResourceNotFoundException/);
  });

  it('should release the backpressure link once per group, and report progress by group', () => {
    const link = backpressure({ highWaterMark: 100 });
    const reports: Progress[] = [];
    link.emitted(3);
    const { values } = run(
      (_, i) => (i === 1 ? { error: cancelled('ConditionalCheckFailed') } : {}),
      (client, scheduler) =>
        from([[put('a'), put('b')], [put('c')], []]).pipe(
          dynamoTransactWrite(client, fast(scheduler, { backpressure: link, onProgress: (p) => reports.push(p), concurrency: 1 })),
        ),
    );
    expect(values.map((v) => v.status)).toEqual(['invalid', 'written', 'cancelled']);
    expect(link.pending).toBe(0);
    expect(reports.at(-1)).toMatchObject({ taken: 3, done: 2, failed: 1, calls: 2, complete: true });
  });

  it('should pass an error from the source on after the groups taken are settled', () => {
    const boom = new Error('source failed');
    const { events } = run(
      () => ({ marble: '---(r|)' }),
      (client, scheduler) => {
        const source = new Subject<TransactGroup>();
        scheduler.schedule(() => {
          source.next([put('a')]);
          source.error(boom);
        }, 0);
        return source.pipe(dynamoTransactWrite(client, fast(scheduler)));
      },
    );
    expect(events.map((e) => [e.at, e.value?.status ?? e.error ?? 'complete'])).toEqual([
      [3, 'written'],
      [3, boom],
    ]);
  });

  it('should abort the calls in flight when unsubscribed', () => {
    const { calls } = run(
      () => ({ marble: '-----(r|)' }),
      (client, scheduler) => of([put('a')]).pipe(dynamoTransactWrite(client, fast(scheduler))),
      2,
    );
    expect(calls[0]!.signal?.aborted).toBe(true);
  });

  it('should validate options when the operator is created, naming the bad value', () => {
    const client = { send: () => EMPTY };
    expect(() => dynamoTransactWrite(client, { concurrency: 0 })).toThrow(new RangeError('concurrency must be an integer >= 1, got 0'));
    expect(() => dynamoTransactWrite(client, { maxAttempts: 1.5 })).toThrow(/maxAttempts must be an integer >= 1, got 1.5/);
    expect(() => dynamoTransactWrite(client, { onFailure: 'ignore' as never })).toThrow(/onFailure must be 'emit' or 'error', got ignore/);
    expect(() => dynamoTransactWrite(client, { backoff: { jitter: 'some' as never } })).toThrow(/backoff.jitter/);
    expect(() => dynamoTransactWrite(client, { keyAttributes: { T: [] } })).toThrow(/keyAttributes.T must be/);
    expect(() => dynamoTransactWrite(client, { clientRequestToken: 'random' as never })).toThrow(
      /clientRequestToken must be 'content', 'none' or a function, got random/,
    );
    expect(() => dynamoTransactWrite(client, { returnConsumedCapacity: 'ALL' as never })).toThrow(/returnConsumedCapacity/);
    expect(() => dynamoTransactGet(client, { concurrency: -1 })).toThrow(/concurrency must be an integer >= 1, got -1/);
  });
});

describe('dynamoTransactGet (virtual time)', () => {
  it('should emit the items in action order, undefined where missing, after retrying a conflict', () => {
    const group: TransactGetGroup = [
      { table: 'T', key: { pk: 'a', other: 'dropped' }, projection: ['pk', 'name'] },
      { table: 'U', key: { pk: 'b' } },
    ];
    const { calls, values } = run(
      (_, i) =>
        i === 0
          ? { error: cancelled('None', 'TransactionConflict') }
          : { output: { Responses: [{ Item: { pk: { S: 'a' }, name: { N: '12345678901234567890123456789012345678' } } }, {}] } },
      (client, scheduler) =>
        of(group).pipe(
          dynamoTransactGet(client, { keyAttributes: { T: ['pk'], U: ['pk'] }, scheduler, backoff: { baseDelayMs: 10, jitter: 'none' } }),
        ),
    );
    expect(calls.map((c) => [c.at, c.operation, c.actions.join(' ')])).toEqual([
      [0, 'TransactGetItems', 'Get T:a Get U:b'],
      [11, 'TransactGetItems', 'Get T:a Get U:b'],
    ]);
    expect((calls[0]!.input.TransactItems as Array<{ Get: object }>)[0]!.Get).toEqual({
      TableName: 'T',
      Key: { pk: { S: 'a' } },
      ProjectionExpression: '#p0, #p1',
      ExpressionAttributeNames: { '#p0': 'pk', '#p1': 'name' },
    });
    expect(values).toHaveLength(1);
    const [read] = values;
    expect(read).toMatchObject({ status: 'read', index: 0, attempts: 2 });
    const items = (read as { items: Array<Record<string, unknown> | undefined> }).items;
    expect(items).toHaveLength(2);
    expect(String(items[0]!.name)).toBe('12345678901234567890123456789012345678');
    expect(items[1]).toBeUndefined();
  });

  it('should refuse a group reading one item twice, or over 100 items, before any call', () => {
    const { calls, values } = run(
      () => ({}),
      (client, scheduler) =>
        from([
          [
            { table: 'T', key: { pk: 'a' } },
            { table: 'T', key: { pk: 'a' } },
          ],
          Array.from({ length: 101 }, (_, i) => ({ table: 'T', key: { pk: `k${i}` } })),
        ]).pipe(dynamoTransactGet(client, { keyAttributes: { T: ['pk'] }, scheduler })),
    );
    expect(calls).toHaveLength(0);
    expect(values.map((v) => (v as { error: TransactionError }).error.problem)).toEqual(['group.duplicateItem', 'group.tooManyActions']);
  });
});

describe('transaction decisions', () => {
  it.each([
    ['a success', { output: {} }, 1, { kind: 'done' }],
    ['a failed condition', { error: cancelled('None', 'ConditionalCheckFailed') }, 1, { kind: 'cancelled' }],
    ['a failed condition and a conflict', { error: cancelled('TransactionConflict', 'ConditionalCheckFailed') }, 1, { kind: 'cancelled' }],
    ['conflicts only', { error: cancelled('TransactionConflict', 'None') }, 1, { kind: 'retry' }],
    ['throttling reasons', { error: cancelled('ThrottlingError', 'ProvisionedThroughputExceeded') }, 1, { kind: 'retry' }],
    [
      'conflicts, no attempts left',
      { error: cancelled('TransactionConflict') },
      3,
      { kind: 'failed', code: 'transaction.attemptsExhausted' },
    ],
    [
      'a ValidationError reason',
      { error: cancelled('ConditionalCheckFailed', 'ValidationError') },
      1,
      { kind: 'failed', code: 'transaction.nonRetryable' },
    ],
    ['only None reasons', { error: cancelled('None') }, 1, { kind: 'failed', code: 'transaction.nonRetryable' }],
    ['TransactionConflictException', { error: named('TransactionConflictException') }, 1, { kind: 'retry' }],
    ['TransactionInProgressException', { error: named('TransactionInProgressException') }, 1, { kind: 'retry' }],
    [
      'IdempotentParameterMismatchException',
      { error: named('IdempotentParameterMismatchException') },
      1,
      { kind: 'failed', code: 'transaction.nonRetryable' },
    ],
    ['a ValidationException', { error: named('ValidationException') }, 1, { kind: 'failed', code: 'transaction.nonRetryable' }],
    ['throttling, attempts left', { error: throttled }, 2, { kind: 'retry' }],
  ])('should decide %s', (_, answer, attempts, step) => {
    expect(decideTransact(answer, attempts, 3)).toEqual(step);
  });

  it('should let groups on common items go one after another in admission order, releasing several at once', () => {
    const gate = new GroupGate<{ index: number; items: string[] }>();
    const g = (index: number, ...items: string[]) => ({ index, items });
    const [a, b, c, d] = [g(0, 'x', 'y'), g(1, 'y', 'z'), g(2, 'z', 'x'), g(3, 'w')];
    expect([a, b, c, d].map((e) => gate.admit(e))).toEqual(['queued', 'held', 'held', 'queued']);
    expect([gate.next(), gate.next(), gate.next()]).toEqual([a, d, undefined]);
    gate.settled(a);
    expect([gate.next(), gate.next()]).toEqual([b, undefined]); // c still waits for b on z
    gate.settled(b);
    expect(gate.next()).toBe(c);
  });

  it('should serialize maps with sorted keys and everything else in order', () => {
    expect(canonicalJson({ b: [2, 1], a: { d: new Uint8Array([1, 2]), c: 'x' } })).toBe('{"a":{"c":"x","d":"AQI="},"b":[2,1]}');
    expect(contentToken('{}')).toBe('44136fa355b3678a1146ad16f7e8649e94fb');
  });
});

describe('transaction operator types', () => {
  it('should type outcomes by onFailure and by the item type', () => {
    const client = { send: () => EMPTY };
    interface Account {
      pk: string;
      balance: number;
    }
    expectTypeOf(dynamoTransactWrite(client)).toEqualTypeOf<OperatorFunction<TransactGroup, TransactWriteResult>>();
    expectTypeOf(dynamoTransactWrite<Account>(client, { onFailure: 'error' })).toEqualTypeOf<
      OperatorFunction<TransactGroup<Account>, TransactWritten<Account> | TransactCancelled<Account>>
    >();
    expectTypeOf(dynamoTransactGet<Account>(client)).toEqualTypeOf<OperatorFunction<TransactGetGroup, TransactGetResult<Account>>>();
    expectTypeOf(dynamoTransactGet<Account>(client, { onFailure: 'error' })).toEqualTypeOf<
      OperatorFunction<TransactGetGroup, TransactRead<Account>>
    >();
    expectTypeOf<TransactRead<Account>['items']>().toEqualTypeOf<Array<Account | undefined>>();
    // a put's item is the caller's type; an update's key is any key
    expectTypeOf<Extract<TransactGroup<Account>[number], { put: unknown }>['put']>().toEqualTypeOf<Account>();
  });
});
