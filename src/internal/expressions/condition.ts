/**
 * A `Condition` (plain objects, and/or/not, raw expressions) parsed into a tree, then rendered as a
 * ConditionExpression with placeholders. Plain and synchronous; the public surface is `src/expressions.ts`.
 */
import type { RawExpression } from '../../expressions.js';
import { checkValue, fail, isBinary, isPlainObject, parsePath, type Path, type Placeholders, show, text } from './common.js';

interface Operand {
  path: Path;
  size: boolean;
}
export type Node =
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

export function checkRaw(raw: Record<string, unknown>, where: string): RawExpression {
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

export function parseCondition(c: unknown, where: string): Node {
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

export function renderCondition(node: Node, ph: Placeholders, parent?: 'and' | 'or'): string {
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

export function raws(node: Node | undefined, out: RawExpression[] = []): RawExpression[] {
  if (node?.kind === 'raw') out.push(node.raw);
  else if (node?.kind === 'and' || node?.kind === 'or') node.items.forEach((n) => raws(n, out));
  else if (node?.kind === 'not') raws(node.item, out);
  return out;
}
