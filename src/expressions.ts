/**
 * Plain JavaScript updates and conditions compiled to DynamoDB expressions: every attribute name goes through a
 * generated `#n…` placeholder and every value through a `:v…` one, so reserved words, dots and odd names are safe.
 * Values are handed back as they came (bigint, NumberValue, Sets, bytes untouched), for the caller's marshaller.
 */
import { isDeepStrictEqual } from 'node:util';
import type { NativeAttributeBinary, NativeAttributeValue, NumberValue } from '@aws-sdk/util-dynamodb';

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

type Path = ReadonlyArray<string | number>;

const fail = (message: string): never => {
  throw new TypeError(message);
};
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v));
/** A value as the messages show it: `"open"`, `5n`, `[1, 2]`, `{ lt, foo }`, `a Set`. */
function text(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return `[${v.map(text).join(', ')}]`;
  if (isPlainObject(v)) return `{ ${Object.keys(v).join(', ')} }`;
  if (typeof v === 'object' && v !== null) return `a ${v.constructor?.name ?? 'object'}`;
  return String(v);
}
const isNumberValue = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && v.constructor?.name === 'NumberValue' && typeof (v as NumberValue).value === 'string';
const isNumeric = (v: unknown) => typeof v === 'number' || typeof v === 'bigint' || isNumberValue(v);
const isBinary = (v: unknown) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);

/** A path as the messages show it: `stats.views`, `tags[0]`, `"weird.name".x`. */
const show = (path: Path): string =>
  path.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i ? '.' : ''}${/[.[\]]/.test(s) ? JSON.stringify(s) : s}`)).join('');

const NEXT = /\.([^.[\]]+)|\[(0|[1-9]\d*)\]/y;

function parsePath(path: unknown, where: string): Path {
  if (Array.isArray(path)) {
    if (typeof path[0] !== 'string') fail(`${where}: a path array starts with an attribute name, got ${text(path)}`);
    for (const s of path)
      if (typeof s === 'string' ? s === '' : !(Number.isSafeInteger(s) && s >= 0))
        fail(`${where}: path ${text(path)} holds ${text(s)}: names are non-empty strings, list indexes integers >= 0`);
    return [...path];
  }
  if (typeof path !== 'string') return fail(`${where}: a path is a string or an array of names and indexes, got ${text(path)}`);
  const first = /^[^.[\]]+/.exec(path)?.[0];
  const segments: Array<string | number> = first ? [first] : [];
  let at = first?.length ?? 0;
  while (first && at < path.length) {
    NEXT.lastIndex = at;
    const m = NEXT.exec(path);
    if (!m) break;
    segments.push(m[1] ?? Number(m[2]));
    at = NEXT.lastIndex;
  }
  if (!first || at !== path.length || !segments.every((s) => typeof s === 'string' || Number.isSafeInteger(s)))
    fail(
      `${where}: bad path ${text(path)}: write names joined by '.' and list indexes as [n] ('a.b[2].c'), ` +
        `or an array such as ['weird.name', 2] for names holding '.', '[' or ']'`,
    );
  return segments;
}

/** Update functions made by the helpers: only these are read as functions, never data that looks like one. */
const made = new WeakSet<object>();
const isFunction = (v: unknown): v is UpdateFunction => typeof v === 'object' && v !== null && made.has(v);

/**
 * Refuses `undefined` anywhere in a value (DynamoDB has none; a marshaller would drop it or throw), and an update
 * function anywhere but as a whole `set` value, naming where: `at` is the value's path, `hint` what to do instead.
 */
function checkValue(value: unknown, at: string, where: string, hint = ''): void {
  if (value === undefined) fail(`${where}: ${at} is undefined; leave it out${hint}`);
  if (isFunction(value)) fail(`${where}: ${at} is an update function (${value.$fn}), which works only as a whole set value`);
  if (Array.isArray(value)) value.forEach((v, i) => checkValue(v, `${at}[${i}]`, where));
  else if (value instanceof Set) for (const v of value) checkValue(v, `an element of ${at}`, where);
  else if (value instanceof Map) for (const [k, v] of value) checkValue(v, `${at}.${String(k)}`, where);
  else if (isPlainObject(value)) for (const k of Object.keys(value)) checkValue(value[k], `${at}.${k}`, where);
}

/** Generated placeholders: the same name or value (primitives by value, objects by identity) reuses its own. */
class Placeholders {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly byName = new Map<string, string>();
  private readonly byValue = new Map<unknown, string>();
  private counts = { '#n': 0, ':v': 0 };

  /** `taken`: every placeholder a raw expression uses or defines, which generated ones skip. */
  constructor(private readonly taken: ReadonlySet<string>) {}

  private next(prefix: '#n' | ':v'): string {
    let p: string;
    do p = `${prefix}${this.counts[prefix]++}`;
    while (this.taken.has(p));
    return p;
  }

  name(name: string): string {
    let p = this.byName.get(name);
    if (p === undefined) {
      p = this.next('#n');
      this.byName.set(name, p);
      this.names[p] = name;
    }
    return p;
  }

  value(value: unknown): string {
    let p = this.byValue.get(value);
    if (p === undefined) {
      p = this.next(':v');
      this.byValue.set(value, p);
      this.values[p] = value;
    }
    return p;
  }

  path(path: Path): string {
    return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i ? '.' : ''}${this.name(s)}`)).join('');
  }
}

// ---- update -------------------------------------------------------------------------------------------------------

function fn<F extends UpdateFunction>(f: F): F {
  made.add(Object.freeze(f));
  return f;
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

type Action = 'set' | 'add' | 'remove' | 'delete';
interface Target {
  action: Action;
  path: Path;
  value?: unknown;
}

function entries(clause: unknown, action: Action): Target[] {
  if (Array.isArray(clause))
    return clause.map((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) fail(`${action}[${i}]: expected a [path, value] pair, got ${text(pair)}`);
      return { action, path: parsePath((pair as unknown[])[0], `${action}[${i}]`), value: (pair as unknown[])[1] };
    });
  if (!isPlainObject(clause)) fail(`${action}: expected an object of path: value, or [path, value] pairs, got ${text(clause)}`);
  return Object.keys(clause as object).map((key) => ({
    action,
    path: parsePath(key, action),
    value: (clause as Record<string, unknown>)[key],
  }));
}

/** The update's actions, validated: known clauses, defined values, operand types, no overlapping paths. */
function planUpdate(spec: unknown): Target[] {
  if (!isPlainObject(spec)) return fail(`update: expected { set, add, remove, delete } or a raw expression, got ${text(spec)}`);
  const unknown = Object.keys(spec).filter((k) => !['set', 'add', 'remove', 'delete'].includes(k));
  if (unknown.length) fail(`update: unknown clause ${text(unknown[0])}; expected set, add, remove or delete`);
  const targets: Target[] = [];
  if (spec.set !== undefined) targets.push(...entries(spec.set, 'set'));
  if (spec.remove !== undefined) {
    if (!Array.isArray(spec.remove)) fail(`remove: expected an array of paths, got ${text(spec.remove)}`);
    targets.push(...(spec.remove as unknown[]).map((p, i) => ({ action: 'remove' as const, path: parsePath(p, `remove[${i}]`) })));
  }
  if (spec.add !== undefined) targets.push(...entries(spec.add, 'add'));
  if (spec.delete !== undefined) targets.push(...entries(spec.delete, 'delete'));
  if (targets.length === 0) fail('update: nothing to do; give at least one path to set, add, remove or delete');
  for (const { action, path, value } of targets) {
    const where = `${action} ${show(path)}`;
    if (action === 'set' && isFunction(value)) continue; // checked when it was made
    if (action !== 'remove') checkValue(value, show(path), action, action === 'set' ? ', or remove the attribute' : '');
    if (action === 'add' && !isNumeric(value) && !(value instanceof Set))
      fail(`${where}: ADD takes a number (bigint, NumberValue) or a Set, got ${text(value)}; use set to store other values`);
    if (action === 'delete' && !(value instanceof Set && value.size > 0))
      fail(`${where}: DELETE takes a non-empty Set of elements to take out`);
  }
  for (let i = 0; i < targets.length; i++)
    for (let j = i + 1; j < targets.length; j++) {
      const [a, b] = [targets[i]!, targets[j]!];
      const k = a.path.findIndex((s, x) => x < b.path.length && s !== b.path[x]);
      const pair = `${a.action} ${show(a.path)} and ${b.action} ${show(b.path)}`;
      if (k === -1)
        fail(
          `update: ${pair} overlap; DynamoDB rejects two actions on one path or on a path and a path inside it ("Two document paths overlap")`,
        );
      if (typeof a.path[k] !== typeof b.path[k])
        fail(`update: ${pair} conflict: ${show(a.path.slice(0, k))} cannot be both a list and a map ("Two document paths conflict")`);
    }
  return targets;
}

function renderUpdate(targets: Target[], ph: Placeholders): string {
  const source = (v: unknown): string => {
    if (!isFunction(v)) return ph.value(v);
    const f = v;
    const path = () => ph.path(parsePath(f.path, f.$fn));
    if (f.$fn === 'if_not_exists') return `if_not_exists(${path()}, ${ph.value(f.value)})`;
    if (f.$fn === 'increment') return `${path()} + ${ph.value(f.delta)}`;
    return f.prepend ? `list_append(${ph.value(f.values)}, ${path()})` : `list_append(${path()}, ${ph.value(f.values)})`;
  };
  const sections = { set: [] as string[], remove: [] as string[], add: [] as string[], delete: [] as string[] };
  for (const { action, path, value } of targets) {
    const target = ph.path(path);
    sections[action].push(
      action === 'set' ? `${target} = ${source(value)}` : action === 'remove' ? target : `${target} ${ph.value(value)}`,
    );
  }
  return (Object.keys(sections) as Action[])
    .filter((a) => sections[a].length)
    .map((a) => `${a.toUpperCase()} ${sections[a].join(', ')}`)
    .join(' ');
}

// ---- condition ----------------------------------------------------------------------------------------------------

interface Operand {
  path: Path;
  size: boolean;
}
type Node =
  | { kind: 'raw'; raw: RawExpression }
  | { kind: 'and' | 'or'; items: Node[] }
  | { kind: 'not'; item: Node }
  | { kind: 'op'; left: Operand; op: string; right: unknown }
  | { kind: 'between'; left: Operand; low: unknown; high: unknown }
  | { kind: 'in'; left: Operand; values: unknown[] }
  | { kind: 'call'; fn: string; path: Path; args: unknown[] };

const OPERATORS: Record<string, string> = { eq: '=', ne: '<>', lt: '<', le: '<=', gt: '>', ge: '>=' };
const COMPARISON_KEYS = new Set([...Object.keys(OPERATORS), 'between', 'in', 'beginsWith', 'contains', 'exists', 'type', 'size']);
const TYPES = ['S', 'SS', 'N', 'NS', 'B', 'BS', 'BOOL', 'NULL', 'L', 'M'];

function checkRaw(raw: Record<string, unknown>, where: string): RawExpression {
  const extra = Object.keys(raw).filter((k) => !['expression', 'names', 'values'].includes(k));
  if (extra.length) fail(`${where}: a raw expression takes only names and values beside expression, got ${text(extra[0])}`);
  if (typeof raw.expression !== 'string' || !raw.expression.trim()) fail(`${where}: expression must be a non-empty string`);
  for (const [field, mark] of [
    ['names', '#'],
    ['values', ':'],
  ] as const) {
    const map = raw[field];
    if (map === undefined) continue;
    if (!isPlainObject(map)) fail(`${where}: ${field} must be an object, got ${text(map)}`);
    for (const [k, v] of Object.entries(map as object)) {
      if (!k.startsWith(mark)) fail(`${where}: ${field} key ${text(k)} must start with '${mark}'`);
      if (field === 'values') checkValue(v, k, where);
      else if (typeof v !== 'string' || v === '') fail(`${where}: names ${k} must be a non-empty string, got ${text(v)}`);
    }
  }
  return raw as unknown as RawExpression;
}

function parseCondition(c: unknown, where: string): Node {
  if (Array.isArray(c)) {
    if (c.length !== 2 || isPlainObject(c[0]))
      fail(`${where}: an array is a [path, test] pair, got ${text(c)}; to AND conditions, write { and: [...] }`);
    const path = parsePath(c[0], where);
    return compare(path, c[1], `${where} on ${show(path)}`);
  }
  if (!isPlainObject(c)) return fail(`${where}: expected a condition object or a [path, test] pair, got ${text(c)}`);
  const keys = Object.keys(c);
  if (keys.length === 0) fail(`${where}: empty condition`);
  if ('expression' in c) return { kind: 'raw', raw: checkRaw(c, where) };
  const clauses = keys.map((key): Node => {
    const v = c[key];
    if (key === 'and' || key === 'or') {
      if (!Array.isArray(v) || v.length === 0) fail(`${where}: ${key} takes a non-empty array of conditions, got ${text(v)}`);
      const items = (v as unknown[]).map((x, i) => parseCondition(x, `${where}.${key}[${i}]`));
      return items.length === 1 ? items[0]! : { kind: key, items };
    }
    if (key === 'not') return { kind: 'not', item: parseCondition(v, `${where}.not`) };
    if (key === 'attributeExists' || key === 'attributeNotExists')
      return {
        kind: 'call',
        fn: key === 'attributeExists' ? 'attribute_exists' : 'attribute_not_exists',
        path: parsePath(v, `${where}.${key}`),
        args: [],
      };
    const path = parsePath(key, where);
    return compare(path, v, `${where} on ${show(path)}`);
  });
  return clauses.length === 1 ? clauses[0]! : { kind: 'and', items: clauses };
}

/** Whether a value is a {@link Comparison}: a plain object whose keys are all operators (none: a map; a mix: refused). */
function isComparison(v: unknown, where: string): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  const ops = keys.filter((k) => COMPARISON_KEYS.has(k));
  if (keys.length && ops.length === 0) return false;
  if (ops.length !== keys.length || keys.length === 0)
    fail(
      `${where}: ${text(v)} ${keys.length ? `mixes comparison operators (${ops.join(', ')}) with other keys` : 'is an empty object'}; ` +
        `to compare with a map, write { eq: map }; the operators are ${[...COMPARISON_KEYS].join(', ')}`,
    );
  return true;
}

function compare(path: Path, v: unknown, where: string, size = false): Node {
  if (!isComparison(v, where)) {
    if (size) fail(`${where}: size takes a comparison such as { gt: 0 }, got ${text(v)}`);
    checkValue(v, show(path), where, ', or test { exists: false }');
    return { kind: 'op', left: { path, size }, op: '=', right: v };
  }
  const left = { path, size };
  const nodes = Object.keys(v).map((key): Node => {
    const arg = v[key];
    const at = `${where}: ${size ? 'size.' : ''}${key}`;
    if (arg === undefined) fail(`${at} is undefined`);
    if (size && !(key in OPERATORS || key === 'between' || key === 'in'))
      fail(`${at}: size compares with eq, ne, lt, le, gt, ge, between or in`);
    if (key in OPERATORS) {
      checkValue(arg, key, where);
      return { kind: 'op', left, op: OPERATORS[key]!, right: arg };
    }
    if (key === 'between') {
      if (!Array.isArray(arg) || arg.length !== 2) fail(`${at} takes [low, high], got ${text(arg)}`);
      checkValue(arg, key, where);
      return { kind: 'between', left, low: (arg as unknown[])[0], high: (arg as unknown[])[1] };
    }
    if (key === 'in') {
      if (!Array.isArray(arg) || arg.length === 0 || arg.length > 100) fail(`${at} takes an array of 1 to 100 values, got ${text(arg)}`);
      checkValue(arg, key, where);
      return { kind: 'in', left, values: arg as unknown[] };
    }
    if (key === 'exists') {
      if (typeof arg !== 'boolean') fail(`${at} takes true or false, got ${text(arg)}`);
      return { kind: 'call', fn: arg ? 'attribute_exists' : 'attribute_not_exists', path, args: [] };
    }
    if (key === 'type' && !TYPES.includes(arg as string)) fail(`${at} is one of ${TYPES.join(', ')}, got ${text(arg)}`);
    if (key === 'beginsWith' && typeof arg !== 'string' && !isBinary(arg)) fail(`${at} takes a string or binary, got ${text(arg)}`);
    if (key === 'size') return compare(path, arg, where, true);
    checkValue(arg, key, where);
    return { kind: 'call', fn: { type: 'attribute_type', beginsWith: 'begins_with', contains: 'contains' }[key]!, path, args: [arg] };
  });
  return nodes.length === 1 ? nodes[0]! : { kind: 'and', items: nodes };
}

function renderCondition(node: Node, ph: Placeholders, parent?: 'and' | 'or'): string {
  const operand = ({ path, size }: Operand) => (size ? `size(${ph.path(path)})` : ph.path(path));
  switch (node.kind) {
    case 'raw':
      return parent ? `(${node.raw.expression})` : node.raw.expression;
    case 'and':
    case 'or': {
      const joined = node.items.map((item) => renderCondition(item, ph, node.kind)).join(` ${node.kind.toUpperCase()} `);
      return parent && parent !== node.kind ? `(${joined})` : joined;
    }
    case 'not':
      return `NOT (${renderCondition(node.item, ph)})`;
    case 'op':
      return `${operand(node.left)} ${node.op} ${ph.value(node.right)}`;
    case 'between': {
      // Parenthesized among other clauses, so that its AND is not read as theirs.
      const between = `${operand(node.left)} BETWEEN ${ph.value(node.low)} AND ${ph.value(node.high)}`;
      return parent ? `(${between})` : between;
    }
    case 'in':
      return `${operand(node.left)} IN (${node.values.map((v) => ph.value(v)).join(', ')})`;
    case 'call':
      return `${node.fn}(${[ph.path(node.path), ...node.args.map((a) => ph.value(a))].join(', ')})`;
  }
}

function raws(node: Node | undefined, out: RawExpression[] = []): RawExpression[] {
  if (node?.kind === 'raw') out.push(node.raw);
  else if (node?.kind === 'and' || node?.kind === 'or') node.items.forEach((n) => raws(n, out));
  else if (node?.kind === 'not') raws(node.item, out);
  return out;
}

// ---- both ---------------------------------------------------------------------------------------------------------

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
