/**
 * Plain JavaScript updates and conditions compiled to DynamoDB expressions: every attribute name goes through a
 * generated `#n…` placeholder and every value through a `:v…` one, so reserved words, dots and odd names are safe.
 * Values are handed back as they came (bigint, NumberValue, Sets, bytes untouched), for the caller's marshaller.
 */
import { isDeepStrictEqual } from 'node:util';
import type { NativeAttributeBinary, NativeAttributeValue, NumberValue } from '@aws-sdk/util-dynamodb';
import { checkValue, fail, fn, isNumeric, isPlainObject, parsePath, Placeholders, text } from './internal/expressions/common.js';
import { checkRaw, parseCondition, raws, renderCondition } from './internal/expressions/condition.js';
import { planUpdate, renderUpdate } from './internal/expressions/update.js';

/**
 * A document path. As text: names joined by `.`, list indexes as `[n]`: `'status'`, `'stats.views'`, `'tags[0]'`,
 * `'a.b[2].c'`. As an array, its parts taken literally (strings are names, numbers are indexes), for names holding
 * `.`, `[` or `]`: `['weird.name', 3]` is the element 3 of the attribute `weird.name`.
 */
export type AttributePath = string | ReadonlyArray<string | number>;

/**
 * A value computed from the item, for `set`. Made only by {@link ifNotExists}, {@link listAppend} and
 * {@link increment}: an object that merely looks like one is stored as the map it is, so data can never turn into
 * an expression.
 */
export type UpdateFunction =
  | { readonly $fn: 'if_not_exists'; readonly path: AttributePath; readonly value: NativeAttributeValue }
  | {
      readonly $fn: 'list_append';
      readonly path: AttributePath;
      readonly values: readonly NativeAttributeValue[];
      readonly prepend: boolean;
    }
  | { readonly $fn: 'increment'; readonly path: AttributePath; readonly delta: number | bigint | NumberValue };

/** A value to SET: a plain value (stored as it is), or an {@link UpdateFunction} of the item. */
export type SetValue = NativeAttributeValue | UpdateFunction;

/** `{ path: value }`, or `[path, value]` pairs for paths a key cannot spell (`[['weird.name'], 1]`). */
type PathValues<V> = Readonly<Record<string, V>> | ReadonlyArray<readonly [AttributePath, V]>;

/** An update from plain JavaScript. Keys are {@link AttributePath} texts. At least one action; no two paths may overlap. */
export interface UpdateSpec {
  /** SET: each path to a value or an {@link UpdateFunction}. Parent maps and lists must exist. */
  set?: PathValues<SetValue>;
  /** ADD: a number is added (the attribute is created at the value if absent); a Set's elements are added to a set. */
  add?: PathValues<number | bigint | NumberValue | ReadonlySet<unknown>>;
  /** REMOVE: the attributes, map entries or list elements (later elements shift down). */
  remove?: readonly AttributePath[];
  /** DELETE: a Set's elements taken out of a set attribute. */
  delete?: PathValues<ReadonlySet<unknown>>;
}

/** A hand-written expression with its own names and values (values plain JavaScript), passed through as given. */
export interface RawExpression {
  expression: string;
  names?: Record<string, string>;
  values?: Record<string, NativeAttributeValue>;
}

/** Tests on one attribute, AND-ed: `{ gt: 1, lt: 5 }`. */
export interface Comparison {
  eq?: NativeAttributeValue;
  ne?: NativeAttributeValue;
  lt?: NativeAttributeValue;
  le?: NativeAttributeValue;
  gt?: NativeAttributeValue;
  ge?: NativeAttributeValue;
  /** Inclusive bounds: `BETWEEN low AND high`. */
  between?: readonly [NativeAttributeValue, NativeAttributeValue];
  /** One of 1 to 100 values. */
  in?: readonly NativeAttributeValue[];
  beginsWith?: string | NativeAttributeBinary;
  /** A substring of a string, or an element of a set or list. */
  contains?: NativeAttributeValue;
  /** `true`: attribute_exists; `false`: attribute_not_exists. */
  exists?: boolean;
  type?: 'S' | 'SS' | 'N' | 'NS' | 'B' | 'BS' | 'BOOL' | 'NULL' | 'L' | 'M';
  /** `size(path)` compared: the length of a string or binary, the elements of a set, list or map. */
  size?: Pick<Comparison, 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'between' | 'in'>;
}

/**
 * A condition from plain objects. Each key of an object is one clause, and the clauses are AND-ed:
 * - `{ path: value }` is equality; `{ path: { lt: 5 } }` a {@link Comparison}. An object value whose keys are all
 *   comparison operators is a comparison; an object with none of them is a map compared for equality; a mix, or `{}`,
 *   is refused. To compare with a map that looks like a comparison, write `{ eq: map }`. Values from outside
 *   (a request body) belong in `{ eq: value }`, so that they can only ever be compared.
 * - `and`, `or`, `not`, `attributeExists`, `attributeNotExists` are always operators, and an object with `expression`
 *   is a {@link RawExpression}. To test an attribute with one of those names, or a name holding `.`, `[` or `]`, use a
 *   `[path, test]` pair: `['and', 1]`, `[['weird.name'], { gt: 0 }]`.
 */
export type Condition =
  | RawExpression
  | { readonly and: readonly Condition[] }
  | { readonly or: readonly Condition[] }
  | { readonly not: Condition }
  | { readonly attributeExists: AttributePath }
  | { readonly attributeNotExists: AttributePath }
  | readonly [AttributePath, NativeAttributeValue | Comparison]
  | { readonly [path: string]: NativeAttributeValue | Comparison };

/** What compilation gives, to spread into a command's input. Values are plain JavaScript: marshal them (the document client does). */
export interface CompiledExpressions {
  UpdateExpression?: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, NativeAttributeValue>;
}

/**
 * The attribute's value if it exists, else `value`: `SET #target = if_not_exists(#path, :value)`. Sets a default
 * without overwriting.
 *
 * ## Example
 * ```ts
 * import { compileExpressions, ifNotExists } from 'rxjs-dynamodb';
 *
 * compileExpressions({ update: { set: { createdAt: ifNotExists('createdAt', now) } } });
 * // UpdateExpression: 'SET #n0 = if_not_exists(#n0, :v0)'
 * ```
 * @param path The attribute read (usually the one set).
 * @param value Used when it is absent.
 * @returns An {@link UpdateFunction} for `set`.
 * @see compileExpressions
 */
export function ifNotExists(path: AttributePath, value: NativeAttributeValue): UpdateFunction {
  parsePath(path, 'ifNotExists');
  checkValue(value, 'the value', `ifNotExists(${text(path)})`);
  return fn({ $fn: 'if_not_exists', path, value });
}

/**
 * A list with `values` appended (or, with `prepend`, put first): `SET #target = list_append(#path, :values)`. The
 * list must exist: DynamoDB fails the update ("The provided expression refers to an attribute that does not exist in
 * the item") when it does not; create it first, or SET a whole list.
 *
 * ## Example
 * ```ts
 * import { compileExpressions, listAppend } from 'rxjs-dynamodb';
 *
 * compileExpressions({ update: { set: { log: listAppend('log', ['started'], { prepend: true }) } } });
 * // UpdateExpression: 'SET #n0 = list_append(:v0, #n0)'
 * ```
 * @param path The list read (usually the one set).
 * @param values The elements to add, in order.
 * @param options `prepend`: put them before the list's elements. @default false
 * @returns An {@link UpdateFunction} for `set`.
 * @see compileExpressions
 */
export function listAppend(
  path: AttributePath,
  values: readonly NativeAttributeValue[],
  options: { prepend?: boolean } = {},
): UpdateFunction {
  parsePath(path, 'listAppend');
  if (!Array.isArray(values)) fail(`listAppend(${text(path)}): values must be an array, got ${text(values)}`);
  checkValue(values, 'values', `listAppend(${text(path)})`);
  return fn({ $fn: 'list_append', path, values, prepend: options.prepend ?? false });
}

/**
 * The attribute's number plus `delta` (negative to subtract): `SET #target = #path + :delta`. DynamoDB adds exactly,
 * to 38 digits. The attribute must exist; `add` in the update creates a number that is absent.
 *
 * ## Example
 * ```ts
 * import { compileExpressions, increment } from 'rxjs-dynamodb';
 *
 * compileExpressions({ update: { set: { 'stats.views': increment('stats.views', 1) } } });
 * // UpdateExpression: 'SET #n0.#n1 = #n0.#n1 + :v0'
 * ```
 * @param path The number read (usually the one set).
 * @param delta A number, a bigint or a NumberValue.
 * @returns An {@link UpdateFunction} for `set`.
 * @see compileExpressions
 */
export function increment(path: AttributePath, delta: number | bigint | NumberValue): UpdateFunction {
  parsePath(path, 'increment');
  if (!isNumeric(delta)) fail(`increment(${text(path)}): delta must be a number, bigint or NumberValue, got ${text(delta)}`);
  return fn({ $fn: 'increment', path, delta });
}

/**
 * Compiles a plain-JavaScript update and condition to DynamoDB expressions with generated placeholders, in one
 * placeholder space: `#n0, #n1, …` for every name in every path, `:v0, :v1, …` for every value. A raw expression
 * passes through with its own names and values, and generated placeholders skip every one it uses. Values are
 * handed back untouched (bigint, NumberValue, Sets, Uint8Array), for the caller to marshal. Everything is checked
 * here, with the path named: empty updates, overlapping paths, bad path syntax, `undefined` values, empty `in`.
 *
 * ## Example
 * ```ts
 * import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
 * import { compileExpressions, increment, listAppend } from 'rxjs-dynamodb';
 *
 * const expressions = compileExpressions({
 *   update: { set: { 'stats.views': increment('stats.views', 1), tags: listAppend('tags', ['hot']) }, remove: ['draft'] },
 *   condition: { status: 'open', version: { lt: 5 } },
 * });
 * // UpdateExpression: 'SET #n0.#n1 = #n0.#n1 + :v0, #n2 = list_append(#n2, :v1) REMOVE #n3'
 * // ConditionExpression: '#n4 = :v2 AND #n5 < :v3'
 * // ExpressionAttributeNames: { '#n0': 'stats', '#n1': 'views', '#n2': 'tags', '#n3': 'draft', '#n4': 'status', '#n5': 'version' }
 * // ExpressionAttributeValues: { ':v0': 1, ':v1': ['hot'], ':v2': 'open', ':v3': 5 }
 * await documentClient.send(new UpdateCommand({ TableName: 'posts', Key: { pk: 'post#1' }, ...expressions }));
 * ```
 * @param parts `update`: an {@link UpdateSpec} or a raw expression; `condition`: a {@link Condition}. Either may be
 * left out; with neither, the result is `{}`.
 * @returns The expressions, with `ExpressionAttributeNames` and `ExpressionAttributeValues` only when not empty
 * (DynamoDB rejects empty ones).
 * @throws {TypeError} When the update or the condition is malformed; the message names the path and the problem.
 * @see ifNotExists
 * @see listAppend
 * @see increment
 */
export function compileExpressions(parts: {
  update?: UpdateSpec | RawExpression;
  condition?: Condition | RawExpression;
}): CompiledExpressions {
  if (!isPlainObject(parts)) fail(`compileExpressions: expected { update, condition }, got ${text(parts)}`);
  const unknown = Object.keys(parts).filter((k) => k !== 'update' && k !== 'condition');
  if (unknown.length) fail(`compileExpressions: unknown part ${text(unknown[0])}; expected update or condition`);
  const { update, condition } = parts;
  const rawUpdate = isPlainObject(update) && 'expression' in update ? checkRaw(update, 'update') : undefined;
  const targets = update === undefined || rawUpdate ? undefined : planUpdate(update);
  const tree = condition === undefined ? undefined : parseCondition(condition, 'condition');
  const given = [...(rawUpdate ? [rawUpdate] : []), ...raws(tree)];

  const taken = new Set<string>();
  for (const raw of given) {
    for (const token of raw.expression.match(/[#:][A-Za-z0-9_]+/g) ?? []) taken.add(token);
    for (const key of [...Object.keys(raw.names ?? {}), ...Object.keys(raw.values ?? {})]) taken.add(key);
  }
  const ph = new Placeholders(taken);
  const out: CompiledExpressions = {};
  if (rawUpdate) out.UpdateExpression = rawUpdate.expression;
  if (targets) out.UpdateExpression = renderUpdate(targets, ph);
  if (tree) out.ConditionExpression = renderCondition(tree, ph);

  for (const raw of given) {
    for (const [k, v] of Object.entries(raw.names ?? {})) {
      if (k in ph.names && ph.names[k] !== v) fail(`raw expressions: ${k} names both ${text(ph.names[k])} and ${text(v)}`);
      ph.names[k] = v;
    }
    for (const [k, v] of Object.entries(raw.values ?? {})) {
      if (k in ph.values && !isDeepStrictEqual(ph.values[k], v)) fail(`raw expressions: ${k} is given two different values`);
      ph.values[k] = v;
    }
  }
  if (Object.keys(ph.names).length) out.ExpressionAttributeNames = ph.names;
  if (Object.keys(ph.values).length) out.ExpressionAttributeValues = ph.values;
  return out;
}
