/**
 * What the update and condition compilers share: document paths (parsed and shown), the checks on values, the
 * registry of update functions the helpers made, and the generated `#n…` / `:v…` placeholders. Plain and synchronous;
 * the public surface is `src/expressions.ts`.
 */
import type { NumberValue } from '@aws-sdk/util-dynamodb';
import type { UpdateFunction } from '../../expressions.js';

export type Path = ReadonlyArray<string | number>;

export const fail = (message: string): never => {
  throw new TypeError(message);
};
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v));
/** A value as the messages show it: `"open"`, `5n`, `[1, 2]`, `{ lt, foo }`, `a Set`. */
export function text(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return `[${v.map(text).join(', ')}]`;
  if (isPlainObject(v)) return `{ ${Object.keys(v).join(', ')} }`;
  if (typeof v === 'object' && v !== null) return `a ${v.constructor?.name ?? 'object'}`;
  return String(v);
}
export const isNumberValue = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && v.constructor?.name === 'NumberValue' && typeof (v as NumberValue).value === 'string';
export const isNumeric = (v: unknown) => typeof v === 'number' || typeof v === 'bigint' || isNumberValue(v);
export const isBinary = (v: unknown) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);

/** A path as the messages show it: `stats.views`, `tags[0]`, `"weird.name".x`. */
export const show = (path: Path): string =>
  path.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i ? '.' : ''}${/[.[\]]/.test(s) ? JSON.stringify(s) : s}`)).join('');

const NEXT = /\.([^.[\]]+)|\[(0|[1-9]\d*)\]/y;

export function parsePath(path: unknown, where: string): Path {
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
export const made = new WeakSet<object>();
export const isFunction = (v: unknown): v is UpdateFunction => typeof v === 'object' && v !== null && made.has(v);

/**
 * Refuses `undefined` anywhere in a value (DynamoDB has none; a marshaller would drop it or throw), and an update
 * function anywhere but as a whole `set` value, naming where: `at` is the value's path, `hint` what to do instead.
 */
export function checkValue(value: unknown, at: string, where: string, hint = ''): void {
  if (value === undefined) fail(`${where}: ${at} is undefined; leave it out${hint}`);
  if (isFunction(value)) fail(`${where}: ${at} is an update function (${value.$fn}), which works only as a whole set value`);
  if (Array.isArray(value)) value.forEach((v, i) => checkValue(v, `${at}[${i}]`, where));
  else if (value instanceof Set) for (const v of value) checkValue(v, `an element of ${at}`, where);
  else if (value instanceof Map) for (const [k, v] of value) checkValue(v, `${at}.${String(k)}`, where);
  else if (isPlainObject(value)) for (const k of Object.keys(value)) checkValue(value[k], `${at}.${k}`, where);
}

/** Generated placeholders: the same name or value (primitives by value, objects by identity) reuses its own. */
export class Placeholders {
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

export function fn<F extends UpdateFunction>(f: F): F {
  made.add(Object.freeze(f));
  return f;
}
