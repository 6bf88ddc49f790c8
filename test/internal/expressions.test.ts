/**
 * Issue 12: plain JavaScript updates and conditions compiled to DynamoDB expressions. Exact output strings, one
 * placeholder space shared with raw expressions, values handed back untouched, and the errors raised before any call.
 */
import { NumberValueImpl as NumberValue, type NumberValue as NumberValueType } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AttributePath,
  type CompiledExpressions,
  type Comparison,
  type Condition,
  compileExpressions,
  ifNotExists,
  increment,
  listAppend,
  type RawExpression,
  type UpdateSpec,
} from '../../src/expressions.js';
import { scalar } from '../helpers/arbitraries.js';

type Case = [name: string, parts: Parameters<typeof compileExpressions>[0], expected: CompiledExpressions];

describe('compileExpressions: updates', () => {
  const cases: Case[] = [
    [
      'should SET a top-level attribute',
      { update: { set: { title: 'Hello' } } },
      { UpdateExpression: 'SET #n0 = :v0', ExpressionAttributeNames: { '#n0': 'title' }, ExpressionAttributeValues: { ':v0': 'Hello' } },
    ],
    [
      'should put every segment of a nested path through a name placeholder',
      { update: { set: { 'stats.views': 10, 'a.b[2].c': 'x', 'tags[0]': 'first' } } },
      {
        UpdateExpression: 'SET #n0.#n1 = :v0, #n2.#n3[2].#n4 = :v1, #n5[0] = :v2',
        ExpressionAttributeNames: { '#n0': 'stats', '#n1': 'views', '#n2': 'a', '#n3': 'b', '#n4': 'c', '#n5': 'tags' },
        ExpressionAttributeValues: { ':v0': 10, ':v1': 'x', ':v2': 'first' },
      },
    ],
    [
      'should take the parts of an array path literally, in [path, value] pairs',
      { update: { set: [[['weird.name', 3, 'x[0]'], 1]] } },
      {
        UpdateExpression: 'SET #n0[3].#n1 = :v0',
        ExpressionAttributeNames: { '#n0': 'weird.name', '#n1': 'x[0]' },
        ExpressionAttributeValues: { ':v0': 1 },
      },
    ],
    [
      'should put reserved words through placeholders',
      { update: { set: { status: 'open', name: 'n', count: 1, size: 2 } } },
      {
        UpdateExpression: 'SET #n0 = :v0, #n1 = :v1, #n2 = :v2, #n3 = :v3',
        ExpressionAttributeNames: { '#n0': 'status', '#n1': 'name', '#n2': 'count', '#n3': 'size' },
        ExpressionAttributeValues: { ':v0': 'open', ':v1': 'n', ':v2': 1, ':v3': 2 },
      },
    ],
    [
      'should reuse the placeholder of a name or a primitive value used twice',
      { update: { set: { a: 1, 'b.a': 1, c: '1' } } },
      {
        UpdateExpression: 'SET #n0 = :v0, #n1.#n0 = :v0, #n2 = :v1',
        ExpressionAttributeNames: { '#n0': 'a', '#n1': 'b', '#n2': 'c' },
        ExpressionAttributeValues: { ':v0': 1, ':v1': '1' },
      },
    ],
    [
      'should compile ifNotExists',
      { update: { set: { createdAt: ifNotExists('createdAt', 100) } } },
      {
        UpdateExpression: 'SET #n0 = if_not_exists(#n0, :v0)',
        ExpressionAttributeNames: { '#n0': 'createdAt' },
        ExpressionAttributeValues: { ':v0': 100 },
      },
    ],
    [
      'should compile listAppend, appending and prepending',
      { update: { set: { log: listAppend('log', ['end']), 'm.first': listAppend('m.first', ['start'], { prepend: true }) } } },
      {
        UpdateExpression: 'SET #n0 = list_append(#n0, :v0), #n1.#n2 = list_append(:v1, #n1.#n2)',
        ExpressionAttributeNames: { '#n0': 'log', '#n1': 'm', '#n2': 'first' },
        ExpressionAttributeValues: { ':v0': ['end'], ':v1': ['start'] },
      },
    ],
    [
      'should compile increment, also from another attribute',
      { update: { set: { 'stats.views': increment('stats.views', 1), total: increment('subtotal', -5) } } },
      {
        UpdateExpression: 'SET #n0.#n1 = #n0.#n1 + :v0, #n2 = #n3 + :v1',
        ExpressionAttributeNames: { '#n0': 'stats', '#n1': 'views', '#n2': 'total', '#n3': 'subtotal' },
        ExpressionAttributeValues: { ':v0': 1, ':v1': -5 },
      },
    ],
    [
      'should write the sections in the order SET, REMOVE, ADD, DELETE whatever the order of the spec',
      { update: { delete: { tags: new Set(['old']) }, add: { count: 2 }, remove: ['draft', 'list[1]'], set: { status: 'done' } } },
      {
        UpdateExpression: 'SET #n0 = :v0 REMOVE #n1, #n2[1] ADD #n3 :v1 DELETE #n4 :v2',
        ExpressionAttributeNames: { '#n0': 'status', '#n1': 'draft', '#n2': 'list', '#n3': 'count', '#n4': 'tags' },
        ExpressionAttributeValues: { ':v0': 'done', ':v1': 2, ':v2': new Set(['old']) },
      },
    ],
    [
      'should leave out ExpressionAttributeValues when there are none (DynamoDB rejects an empty map)',
      { update: { remove: ['a', ['b.c']] } },
      { UpdateExpression: 'REMOVE #n0, #n1', ExpressionAttributeNames: { '#n0': 'a', '#n1': 'b.c' } },
    ],
    [
      'should store a hand-built object that looks like an update function as the map it is',
      { update: { set: { profile: { $fn: 'if_not_exists', path: 'isAdmin', value: true } } } },
      {
        UpdateExpression: 'SET #n0 = :v0',
        ExpressionAttributeNames: { '#n0': 'profile' },
        ExpressionAttributeValues: { ':v0': { $fn: 'if_not_exists', path: 'isAdmin', value: true } },
      },
    ],
    ['should give {} for no parts', {}, {}],
  ];
  it.each(cases)('%s', (_, parts, expected) => {
    expect(compileExpressions(parts)).toStrictEqual(expected);
  });

  it('should give what the doc comment of compileExpressions shows', () => {
    expect(
      compileExpressions({
        update: { set: { 'stats.views': increment('stats.views', 1), tags: listAppend('tags', ['hot']) }, remove: ['draft'] },
        condition: { status: 'open', version: { lt: 5 } },
      }),
    ).toStrictEqual({
      UpdateExpression: 'SET #n0.#n1 = #n0.#n1 + :v0, #n2 = list_append(#n2, :v1) REMOVE #n3',
      ConditionExpression: '#n4 = :v2 AND #n5 < :v3',
      ExpressionAttributeNames: { '#n0': 'stats', '#n1': 'views', '#n2': 'tags', '#n3': 'draft', '#n4': 'status', '#n5': 'version' },
      ExpressionAttributeValues: { ':v0': 1, ':v1': ['hot'], ':v2': 'open', ':v3': 5 },
    });
  });

  it('should hand values back untouched: bigint, NumberValue, Sets, bytes, maps', () => {
    const big = 2n ** 64n + 1n;
    const exact = NumberValue.from('12345678901234567890123456789012345678');
    const bytes = new Uint8Array([0, 1, 255]);
    const set = new Set([1n, 2n]);
    const map = { nested: [exact] };
    const out = compileExpressions({ update: { set: { a: big, b: exact, c: bytes, d: map }, add: { e: set } } });
    expect(Object.values(out.ExpressionAttributeValues!)).toStrictEqual([big, exact, bytes, map, set]);
    for (const [i, v] of [exact, bytes, map, set].entries()) expect(out.ExpressionAttributeValues![`:v${i + 1}`]).toBe(v);
  });

  it('should reuse an object value only when it is the same object', () => {
    const list = [1];
    const out = compileExpressions({ update: { set: { a: list, b: list, c: [1] } } });
    expect(out.UpdateExpression).toBe('SET #n0 = :v0, #n1 = :v0, #n2 = :v1');
  });

  it('should make frozen update functions with the discriminant of the helper', () => {
    const values = ['x'];
    expect(ifNotExists('a', 0)).toStrictEqual({ $fn: 'if_not_exists', path: 'a', value: 0 });
    expect(listAppend(['a', 0], values)).toStrictEqual({ $fn: 'list_append', path: ['a', 0], values, prepend: false });
    expect(increment('a.b', 2n)).toStrictEqual({ $fn: 'increment', path: 'a.b', delta: 2n });
    expect(Object.isFrozen(increment('a', 1))).toBe(true);
  });
});

describe('compileExpressions: conditions', () => {
  const one = (expression: string, names: Record<string, string>, values?: Record<string, unknown>): CompiledExpressions => ({
    ConditionExpression: expression,
    ExpressionAttributeNames: names,
    ...(values ? { ExpressionAttributeValues: values } : {}),
  });
  const cases: Array<[name: string, condition: Condition, expected: CompiledExpressions]> = [
    ['should compare for equality', { status: 'open' }, one('#n0 = :v0', { '#n0': 'status' }, { ':v0': 'open' })],
    [
      'should AND several keys, in key order',
      { status: 'open', 'stats.views': 0 },
      one('#n0 = :v0 AND #n1.#n2 = :v1', { '#n0': 'status', '#n1': 'stats', '#n2': 'views' }, { ':v0': 'open', ':v1': 0 }),
    ],
    ['should compile eq', { v: { eq: 1 } }, one('#n0 = :v0', { '#n0': 'v' }, { ':v0': 1 })],
    ['should compile ne', { v: { ne: 1 } }, one('#n0 <> :v0', { '#n0': 'v' }, { ':v0': 1 })],
    ['should compile lt', { v: { lt: 1 } }, one('#n0 < :v0', { '#n0': 'v' }, { ':v0': 1 })],
    ['should compile le', { v: { le: 1 } }, one('#n0 <= :v0', { '#n0': 'v' }, { ':v0': 1 })],
    ['should compile gt', { v: { gt: 1 } }, one('#n0 > :v0', { '#n0': 'v' }, { ':v0': 1 })],
    ['should compile ge', { v: { ge: 1 } }, one('#n0 >= :v0', { '#n0': 'v' }, { ':v0': 1 })],
    ['should compile between', { v: { between: [1, 9] } }, one('#n0 BETWEEN :v0 AND :v1', { '#n0': 'v' }, { ':v0': 1, ':v1': 9 })],
    [
      'should compile in, reusing repeated values',
      { v: { in: ['a', 'b', 'a'] } },
      one('#n0 IN (:v0, :v1, :v0)', { '#n0': 'v' }, { ':v0': 'a', ':v1': 'b' }),
    ],
    ['should compile beginsWith', { v: { beginsWith: 'ab' } }, one('begins_with(#n0, :v0)', { '#n0': 'v' }, { ':v0': 'ab' })],
    ['should compile contains', { v: { contains: 'x' } }, one('contains(#n0, :v0)', { '#n0': 'v' }, { ':v0': 'x' })],
    ['should compile exists: true', { v: { exists: true } }, one('attribute_exists(#n0)', { '#n0': 'v' })],
    ['should compile exists: false', { v: { exists: false } }, one('attribute_not_exists(#n0)', { '#n0': 'v' })],
    ['should compile type', { v: { type: 'SS' } }, one('attribute_type(#n0, :v0)', { '#n0': 'v' }, { ':v0': 'SS' })],
    ['should compile size', { v: { size: { gt: 2 } } }, one('size(#n0) > :v0', { '#n0': 'v' }, { ':v0': 2 })],
    [
      'should AND the operators of one comparison, parenthesizing BETWEEN',
      { v: { ge: 1, size: { between: [1, 3] }, ne: 2 } },
      one('#n0 >= :v0 AND (size(#n0) BETWEEN :v0 AND :v1) AND #n0 <> :v2', { '#n0': 'v' }, { ':v0': 1, ':v1': 3, ':v2': 2 }),
    ],
    ['should compile attributeExists', { attributeExists: 'a.b' }, one('attribute_exists(#n0.#n1)', { '#n0': 'a', '#n1': 'b' })],
    ['should compile attributeNotExists', { attributeNotExists: 'pk' }, one('attribute_not_exists(#n0)', { '#n0': 'pk' })],
    [
      'should compile and, or and not, parenthesizing an OR inside an AND',
      { and: [{ a: 1 }, { or: [{ b: 2 }, { c: { lt: 3 }, d: 4 }] }], not: { e: { exists: true } } },
      one(
        '#n0 = :v0 AND (#n1 = :v1 OR (#n2 < :v2 AND #n3 = :v3)) AND NOT (attribute_exists(#n4))',
        { '#n0': 'a', '#n1': 'b', '#n2': 'c', '#n3': 'd', '#n4': 'e' },
        { ':v0': 1, ':v1': 2, ':v2': 3, ':v3': 4 },
      ),
    ],
    [
      'should flatten an AND inside an AND and unwrap a one-element list',
      { and: [{ and: [{ a: 1 }, { b: 2 }] }, { or: [{ c: 3 }] }] },
      one('#n0 = :v0 AND #n1 = :v1 AND #n2 = :v2', { '#n0': 'a', '#n1': 'b', '#n2': 'c' }, { ':v0': 1, ':v1': 2, ':v2': 3 }),
    ],
    [
      'should compare with a map whose keys are not operators',
      { meta: { color: 'red' } },
      one('#n0 = :v0', { '#n0': 'meta' }, { ':v0': { color: 'red' } }),
    ],
    [
      'should compare with a map that looks like a comparison when it is given as { eq: map }',
      { range: { eq: { lt: 1, gt: 0 } } },
      one('#n0 = :v0', { '#n0': 'range' }, { ':v0': { lt: 1, gt: 0 } }),
    ],
    [
      'should address attributes named like operators, or holding dots, with [path, test] pairs',
      {
        or: [
          ['and', 1],
          [['weird.name', 0], { gt: 0 }],
          ['not', { exists: false }],
        ],
      },
      one(
        '#n0 = :v0 OR #n1[0] > :v1 OR attribute_not_exists(#n2)',
        { '#n0': 'and', '#n1': 'weird.name', '#n2': 'not' },
        { ':v0': 1, ':v1': 0 },
      ),
    ],
    ['should pass a raw condition through', { expression: 'a = b' }, { ConditionExpression: 'a = b' }],
    [
      'should parenthesize a raw condition among others',
      { or: [{ expression: '#x = :x OR #x = :y', names: { '#x': 'x' }, values: { ':x': 1, ':y': 2 } }, { z: 3 }] },
      one('(#x = :x OR #x = :y) OR #n0 = :v0', { '#n0': 'z', '#x': 'x' }, { ':v0': 3, ':x': 1, ':y': 2 }),
    ],
  ];
  it.each(cases)('%s', (_, condition, expected) => {
    expect(compileExpressions({ condition })).toStrictEqual(expected);
  });
});

describe('compileExpressions: one placeholder space', () => {
  it('should number the condition after the update and share names and values', () => {
    const out = compileExpressions({ update: { set: { version: 2, status: 'open' } }, condition: { version: 1, status: 'open' } });
    expect(out).toStrictEqual({
      UpdateExpression: 'SET #n0 = :v0, #n1 = :v1',
      ConditionExpression: '#n0 = :v2 AND #n1 = :v1',
      ExpressionAttributeNames: { '#n0': 'version', '#n1': 'status' },
      ExpressionAttributeValues: { ':v0': 2, ':v1': 'open', ':v2': 1 },
    });
  });

  it("should never generate a placeholder a raw expression defines or uses, and merge the raw one's names and values", () => {
    const update: RawExpression = { expression: 'SET #n0 = :v0, #n2 = :v1', names: { '#n0': 'a', '#n2': 'c' }, values: { ':v0': 1 } };
    // :v1 is used by the raw update but defined by the raw condition: both are skipped
    const condition: Condition = {
      and: [
        { expression: '#n1 <> :v1', names: { '#n1': 'b' }, values: { ':v1': 'x' } },
        { d: 1, e: 'x' },
      ],
    };
    expect(compileExpressions({ update, condition })).toStrictEqual({
      UpdateExpression: 'SET #n0 = :v0, #n2 = :v1',
      ConditionExpression: '(#n1 <> :v1) AND #n3 = :v2 AND #n4 = :v3',
      ExpressionAttributeNames: { '#n0': 'a', '#n1': 'b', '#n2': 'c', '#n3': 'd', '#n4': 'e' },
      ExpressionAttributeValues: { ':v0': 1, ':v1': 'x', ':v2': 1, ':v3': 'x' },
    });
  });

  it('should accept the same raw placeholder defined twice alike, and refuse it defined two ways', () => {
    const raw = (name: string, value: unknown): Condition => ({ expression: '#a = :a', names: { '#a': name }, values: { ':a': value } });
    expect(
      compileExpressions({ condition: { or: [raw('x', new Set([1])), raw('x', new Set([1]))] } }).ExpressionAttributeValues,
    ).toStrictEqual({ ':a': new Set([1]) });
    expect(() => compileExpressions({ condition: { or: [raw('x', 1), raw('y', 1)] } })).toThrow('#a names both "x" and "y"');
    expect(() => compileExpressions({ condition: { or: [raw('x', 1), raw('x', 2)] } })).toThrow(':a is given two different values');
  });
});

describe('compileExpressions: errors', () => {
  const f = (update: UpdateSpec) => ({ update });
  const c = (condition: Condition) => ({ condition });
  const cases: Array<[name: string, parts: unknown, message: RegExp]> = [
    ['should refuse an empty update', f({}), /update: nothing to do/],
    ['should refuse an update whose clauses are empty', f({ set: {}, remove: [] }), /update: nothing to do/],
    [
      'should refuse an unknown update clause',
      { update: { sets: { a: 1 } } },
      /unknown clause "sets"; expected set, add, remove or delete/,
    ],
    ['should refuse an unknown part', { conditon: { a: 1 } }, /unknown part "conditon"/],
    [
      'should refuse a path both SET and REMOVEd',
      f({ set: { a: 1 }, remove: ['a'] }),
      /set a and remove a overlap.*Two document paths overlap/,
    ],
    ['should refuse a path inside another', f({ set: { 'm.x': 1 }, remove: ['m'] }), /set m\.x and remove m overlap/],
    [
      'should refuse one path set two ways',
      f({
        set: [
          ['a', 1],
          [['a'], 2],
        ],
      }),
      /set a and set a overlap/,
    ],
    ['should refuse one path set and added', f({ set: { n: 1 }, add: { n: 1 } }), /set n and add n overlap/],
    ['should refuse one list index set and removed', f({ set: { 'l[0]': 1 }, remove: ['l[0]'] }), /set l\[0\] and remove l\[0\] overlap/],
    [
      'should refuse a list used as a map',
      f({ set: { 'l[0]': 1, 'l.x': 2 } }),
      /set l\[0\] and set l\.x conflict: l cannot be both a list and a map/,
    ],
    ['should refuse a bad path: a..b', f({ set: { 'a..b': 1 } }), /set: bad path "a\.\.b"/],
    ['should refuse a bad path: .a', f({ set: { '.a': 1 } }), /bad path "\.a"/],
    ['should refuse a bad path: a.', f({ set: { 'a.': 1 } }), /bad path "a\."/],
    ['should refuse a bad path: [0]', f({ remove: ['[0]'] }), /remove\[0\]: bad path "\[0\]"/],
    ['should refuse a bad path: a[x]', f({ remove: ['a[x]'] }), /bad path "a\[x\]"/],
    ['should refuse a bad path: a[-1]', f({ remove: ['a[-1]'] }), /bad path "a\[-1\]"/],
    ['should refuse a bad path: a[01] (DynamoDB does)', f({ remove: ['a[01]'] }), /bad path "a\[01\]"/],
    ['should refuse a bad path: a]', f({ remove: ['a]'] }), /bad path "a\]"/],
    ['should refuse a bad path: empty', f({ remove: [''] }), /bad path ""/],
    ['should refuse a bad path: a[1e99]', f({ remove: [`a[${'9'.repeat(20)}]`] }), /bad path/],
    ['should refuse an empty path array', f({ remove: [[]] }), /remove\[0\]: a path array starts with an attribute name/],
    ['should refuse a path array starting with an index', f({ remove: [[0]] }), /starts with an attribute name, got \[0\]/],
    ['should refuse a negative index in a path array', f({ remove: [['a', -1]] }), /path \["a", -1\] holds -1/],
    ['should refuse an empty name in a path array', f({ remove: [['a', '']] }), /holds "": names are non-empty strings/],
    ['should refuse a fractional index in a path array', f({ remove: [['a', 1.5]] }), /holds 1\.5/],
    ['should refuse remove that is not an array', { update: { remove: 'a' } }, /remove: expected an array of paths/],
    ['should refuse an undefined SET value, naming the path', f({ set: { 'stats.views': undefined } }), /set: stats\.views is undefined/],
    ['should refuse an undefined inside a map', f({ set: { p: { a: { b: undefined } } } }), /set: p\.a\.b is undefined/],
    ['should refuse an undefined inside a list', f({ set: { l: [1, undefined] } }), /set: l\[1\] is undefined/],
    ['should refuse an undefined ADD value', f({ add: { n: undefined } } as never), /add: n is undefined/],
    [
      'should refuse ADD of a string',
      f({ add: { n: 'x' } } as never),
      /add n: ADD takes a number \(bigint, NumberValue\) or a Set, got "x"/,
    ],
    ['should refuse DELETE of a non-Set', f({ delete: { s: ['a'] } } as never), /delete s: DELETE takes a non-empty Set/],
    ['should refuse DELETE of an empty Set', f({ delete: { s: new Set() } }), /delete s: DELETE takes a non-empty Set/],
    ['should refuse a bad [path, value] pair', f({ set: [['a']] } as never), /set\[0\]: expected a \[path, value\] pair/],
    ['should refuse an update function nested in a value', f({ set: { m: { x: increment('x', 1) } } }), /set: m\.x is an update function/],
    ['should refuse an undefined condition value, naming the path', c({ 'a.b': undefined }), /condition on a\.b: a\.b is undefined/],
    ['should refuse an undefined operator value', c({ v: { lt: undefined } }), /condition on v: lt is undefined/],
    ['should refuse an undefined in an in list', c({ v: { in: [1, undefined] } }), /condition on v: in\[1\] is undefined/],
    ['should refuse an empty in', c({ v: { in: [] } }), /condition on v: in takes an array of 1 to 100 values/],
    ['should refuse in with 101 values', c({ v: { in: Array.from({ length: 101 }, (_, i) => i) } }), /1 to 100 values/],
    ['should refuse a between that is not a pair', c({ v: { between: [1] } } as never), /between takes \[low, high\]/],
    ['should refuse an unknown type', c({ v: { type: 'X' } } as never), /type is one of S, SS, N, NS, B, BS, BOOL, NULL, L, M, got "X"/],
    ['should refuse beginsWith a number', c({ v: { beginsWith: 1 } } as never), /beginsWith takes a string or binary/],
    ['should refuse exists that is not a boolean', c({ v: { exists: 'yes' } } as never), /exists takes true or false/],
    ['should refuse size of a number', c({ v: { size: 3 } } as never), /size takes a comparison such as \{ gt: 0 \}/],
    ['should refuse a function inside size', c({ v: { size: { exists: true } } } as never), /size\.exists: size compares with/],
    [
      'should refuse a mix of operators and other keys',
      c({ v: { lt: 5, gte: 1 } }),
      /\{ lt, gte \} mixes comparison operators \(lt\).*\{ eq: map \}/,
    ],
    [
      'should refuse an empty object value',
      c({ v: {} }),
      /condition on v: \{  \} is an empty object; to compare with a map, write \{ eq: map \}/,
    ],
    ['should refuse an empty condition', c({}), /condition: empty condition/],
    ['should refuse an empty and', c({ and: [] }), /condition: and takes a non-empty array of conditions/],
    ['should refuse an or that is not an array', c({ or: { a: 1 } } as never), /or takes a non-empty array/],
    [
      'should name where a nested problem is',
      c({ and: [{ a: 1 }, { not: { b: { in: [] } } }] }),
      /condition\.and\[1\]\.not on b: in takes/,
    ],
    [
      'should refuse a list of conditions given as a condition',
      c([{ a: 1 }, { b: 2 }] as never),
      /an array is a \[path, test\] pair.*\{ and: \[\.\.\.\] \}/,
    ],
    [
      'should refuse a raw expression with other keys',
      c({ expression: 'a = b', status: 1 } as never),
      /only names and values beside expression, got "status"/,
    ],
    ['should refuse an empty raw expression', { update: { expression: ' ' } }, /update: expression must be a non-empty string/],
    ['should refuse a raw name key without #', c({ expression: 'x', names: { a: 'b' } }), /names key "a" must start with '#'/],
    [
      'should refuse a raw name that is not a string',
      c({ expression: 'x', names: { '#a': 1 } } as never),
      /names #a must be a non-empty string, got 1/,
    ],
    ['should refuse an undefined raw value', c({ expression: 'x', values: { ':a': undefined } }), /condition: :a is undefined/],
    [
      'should refuse an update function in a condition',
      c({ a: increment('a', 1) }),
      /condition on a: a is an update function \(increment\)/,
    ],
  ];
  it.each(cases)('%s', (_, parts, message) => {
    expect(() => compileExpressions(parts as never)).toThrow(message);
    expect(() => compileExpressions(parts as never)).toThrow(TypeError);
  });

  it('should validate the helpers when they are called', () => {
    expect(() => ifNotExists('a', undefined)).toThrow('ifNotExists("a"): the value is undefined');
    expect(() => ifNotExists('a..b', 1)).toThrow('ifNotExists: bad path "a..b"');
    expect(() => listAppend('l', 'x' as never)).toThrow('listAppend("l"): values must be an array, got "x"');
    expect(() => listAppend('l', [1, undefined])).toThrow('listAppend("l"): values[1] is undefined');
    expect(() => increment('n', '1' as never)).toThrow('increment("n"): delta must be a number, bigint or NumberValue, got "1"');
    expect(() => increment(['n', -1], 1)).toThrow('increment: path ["n", -1] holds -1');
  });
});

describe('compileExpressions: types', () => {
  it('should type the spec as strictly as plain JavaScript allows', () => {
    expectTypeOf(compileExpressions).returns.toEqualTypeOf<CompiledExpressions>();
    expectTypeOf<[['weird.name', 0], { gt: 1 }]>().toExtend<Condition>();
    expectTypeOf<{ set: Array<[['weird.name'], number]> }>().toExtend<UpdateSpec>();
    expectTypeOf<{ add: { n: 1n; s: Set<string> } }>().toExtend<UpdateSpec>();
    expectTypeOf<{ add: { n: string } }>().not.toExtend<UpdateSpec>();
    expectTypeOf<{ delete: { s: string[] } }>().not.toExtend<UpdateSpec>();
    expectTypeOf<{ remove: string }>().not.toExtend<UpdateSpec>();
    expectTypeOf(increment).parameter(1).toEqualTypeOf<number | bigint | NumberValueType>();
    expectTypeOf<{ type: 'SS'; size: { between: [1, 3] } }>().toExtend<Comparison>();
    expectTypeOf<{ type: 'X' }>().not.toExtend<Comparison>();
    expectTypeOf<{ size: { exists: true } }>().not.toExtend<Comparison>();
  });
});

// ---- property: every placeholder defined and used -------------------------------------------------------------------

const NAMES = ['status', 'name', 'count', 'size', 'a', 'b', 'weird.name', 'x[0]', 'and', '🦄', 'n0', '#n0', ':v0'];
const name = fc.constantFrom(...NAMES);
const plain = (s: string | number) => typeof s === 'number' || /^[^.[\]]+$/.test(s);
/** A path from a head name and up to two more names or indexes: as text when it can be written so, or as an array. */
const pathFrom = (head: fc.Arbitrary<string>): fc.Arbitrary<AttributePath> =>
  fc
    .tuple(head, fc.array(fc.oneof(name, fc.nat(3)), { maxLength: 2 }), fc.boolean())
    .map(([h, tail, asText]) =>
      asText && [h, ...tail].every(plain)
        ? [h, ...tail].map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('')
        : [h, ...tail],
    );
const path = pathFrom(name);
const numeric = fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.constant(NumberValue.from('1.5')));
const listOf = fc.array(scalar, { maxLength: 3 });

/** Raw expressions that use the names a generator would pick first. */
const RAW_UPDATE: RawExpression = { expression: 'SET #n0 = :v0', names: { '#n0': 'raw' }, values: { ':v0': 'raw' } };
const RAW_CONDITION: RawExpression = { expression: '#n1 <> :v1', names: { '#n1': 'raw' }, values: { ':v1': 'raw' } };

/** Updates whose targets start at distinct top-level names, so that no two overlap. */
const update: fc.Arbitrary<UpdateSpec | RawExpression> = fc.oneof(
  fc.constant(RAW_UPDATE),
  fc.uniqueArray(name, { minLength: 1, maxLength: 6 }).chain((heads) =>
    fc
      .tuple(
        ...heads.map((h) =>
          fc.tuple(
            fc.constantFrom('set', 'remove', 'add', 'delete'),
            pathFrom(fc.constant(h)),
            fc.oneof(
              scalar,
              listOf,
              path.chain((p) => scalar.map((v) => ifNotExists(p, v))),
              path.chain((p) => fc.tuple(listOf, fc.boolean()).map(([vs, prepend]) => listAppend(p, vs, { prepend }))),
              path.chain((p) => numeric.map((d) => increment(p, d))),
            ),
            fc.oneof(numeric, fc.constant(new Set(['x']))),
          ),
        ),
      )
      .map((targets) => {
        const spec = { set: [], remove: [], add: [], delete: [] } as { [K in 'set' | 'remove' | 'add' | 'delete']: unknown[] };
        for (const [action, p, value, addend] of targets)
          spec[action].push(action === 'remove' ? p : [p, action === 'set' ? value : action === 'add' ? addend : new Set(['x'])]);
        return spec as UpdateSpec;
      }),
  ),
);

const comparison = fc
  .record(
    {
      eq: scalar,
      ne: scalar,
      lt: scalar,
      between: fc.tuple(scalar, scalar),
      in: fc.array(scalar, { minLength: 1, maxLength: 4 }),
      beginsWith: fc.string(),
      contains: scalar,
      exists: fc.boolean(),
      type: fc.constantFrom('S' as const, 'N' as const, 'L' as const),
      size: fc.record({ gt: fc.nat(), in: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) }, { requiredKeys: ['gt'] }),
    },
    { requiredKeys: [] },
  )
  .filter((o) => Object.keys(o).length > 0);

const condition: fc.Arbitrary<Condition> = fc.letrec<{ condition: Condition }>((tie) => ({
  condition: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(path, fc.oneof(scalar, comparison)) as fc.Arbitrary<Condition>,
    fc.dictionary(fc.constantFrom('status', 'a.b', 'c[1]', 'count'), fc.oneof(scalar, comparison), { minKeys: 1, maxKeys: 3 }),
    path.map((p) => ({ attributeExists: p })),
    path.map((p) => ({ attributeNotExists: p })),
    fc.constant(RAW_CONDITION),
    fc.array(tie('condition'), { minLength: 1, maxLength: 3 }).map((and) => ({ and })),
    fc.array(tie('condition'), { minLength: 1, maxLength: 3 }).map((or) => ({ or })),
    tie('condition').map((not) => ({ not })),
  ),
})).condition;

/** Whether RAW_CONDITION is somewhere in the condition. */
const hasRaw = (c: unknown): boolean =>
  c === RAW_CONDITION ||
  (typeof c === 'object' &&
    c !== null &&
    !Array.isArray(c) &&
    ['and', 'or', 'not'].some((k) => [(c as Record<string, unknown>)[k]].flat().some(hasRaw)));
const tokens = (text: string | undefined) => text?.match(/[#:][A-Za-z0-9_]+/g) ?? [];

describe('compileExpressions: properties', () => {
  it('should define every placeholder it uses and use every one it defines', () => {
    fc.assert(
      fc.property(fc.option(update, { nil: undefined }), fc.option(condition, { nil: undefined }), (update, condition) => {
        const out = compileExpressions({ update, condition });
        const used = new Set([...tokens(out.UpdateExpression), ...tokens(out.ConditionExpression)]);
        const defined = [...Object.keys(out.ExpressionAttributeNames ?? {}), ...Object.keys(out.ExpressionAttributeValues ?? {})];
        expect([...used].sort()).toStrictEqual([...defined].sort());
        for (const n of Object.values(out.ExpressionAttributeNames ?? {})) expect([...NAMES, 'c', 'raw']).toContain(n);
        for (const v of Object.values(out.ExpressionAttributeValues ?? {})) expect(v).not.toBeUndefined();
        // generated placeholders never took over a raw expression's own
        const raws = [...(update === RAW_UPDATE ? ['#n0', ':v0'] : []), ...(hasRaw(condition) ? ['#n1', ':v1'] : [])];
        for (const p of raws) expect(out.ExpressionAttributeNames?.[p] ?? out.ExpressionAttributeValues?.[p]).toBe('raw');
        expect(Object.keys(out.ExpressionAttributeNames ?? { x: 1 }).length).toBeGreaterThan(0);
        expect(Object.keys(out.ExpressionAttributeValues ?? { x: 1 }).length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it('should hand back every value of an update, the very same object', () => {
    fc.assert(
      fc.property(update, (update) => {
        fc.pre(!('expression' in update));
        const given: unknown[] = [];
        const pairs = update as unknown as Record<'set' | 'add' | 'delete', Array<[unknown, unknown]>>;
        for (const [, v] of [...pairs.set, ...pairs.add, ...pairs.delete]) {
          const f = (v ?? {}) as { $fn?: string; value?: unknown; values?: unknown; delta?: unknown };
          given.push(f.$fn === 'if_not_exists' ? f.value : f.$fn === 'list_append' ? f.values : f.$fn === 'increment' ? f.delta : v);
        }
        const values = Object.values(compileExpressions({ update }).ExpressionAttributeValues ?? {});
        for (const v of given) expect(values.some((w) => Object.is(w, v))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
