/**
 * An `UpdateSpec` (`{ set, add, remove, delete }`) checked and planned as actions on paths, then rendered as an
 * UpdateExpression with placeholders. Plain and synchronous; the public surface is `src/expressions.ts`.
 */
import { checkValue, fail, isFunction, isNumeric, isPlainObject, parsePath, type Path, type Placeholders, show, text } from './common.js';

type Action = 'set' | 'add' | 'remove' | 'delete';
export interface Target {
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
export function planUpdate(spec: unknown): Target[] {
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

export function renderUpdate(targets: Target[], ph: Placeholders): string {
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
