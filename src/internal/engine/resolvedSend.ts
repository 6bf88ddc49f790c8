/**
 * Sending a command as an SDK client's own `send` does, without working out the order of its middleware chain again
 * on every call. The SDK's `send` merges the client's middleware stack with the command's, then normalizes, sorts and
 * expands every entry (thirty or so for DynamoDB) to find their order before it builds the chain — in a CPU profile of
 * single-item writes, more of the SDK's time per call than signing the request. That order depends only on the
 * entries' names, steps, priorities and relations, so it is worked out once per such shape (by the SDK itself, read
 * back from its `identify()`) and reused; each call still gets its own chain, built from the entries' middlewares in
 * that order with the call's own context, exactly as the SDK's `resolve` would build it.
 *
 * Anything this cannot be sure of is sent with the client's own `send`: a `send` or a stack merge that is not the SDK's
 * (a wrapper, a fake, a patched prototype, an instrumented stack), `cacheMiddleware` set, a stack that logs on
 * resolve, an entry without a name, two entries of one name. A middleware added to the client later changes the
 * shape, so it is in the next call's chain; the shape keeps no middleware (nor what it holds) past its call.
 */

import type { DynamoDBSender } from '../../types.js';

interface Entry {
  middleware: (next: unknown, context: unknown) => unknown;
  name?: string;
  aliases?: string[];
  step?: string;
  priority?: string;
  relation?: string;
  toMiddleware?: string;
}

interface Stack {
  applyToStack(to: object): void;
  concat(from: Stack): Stack;
  identify(): string[];
  identifyOnResolve?(toggle?: boolean): boolean;
  resolve(handler: unknown, context: unknown): unknown;
}

interface SdkClient {
  middlewareStack: Stack;
  config: { cacheMiddleware?: boolean };
  send: (command: object, options?: object) => Promise<unknown>;
}

interface SdkCommand {
  resolveMiddleware(stack: Stack, config: object, options?: object): (command: object) => Promise<{ output: unknown }>;
}

/** Orders by shape: the entries' indices, outermost first; `null` for a shape the SDK's `identify()` does not map back. */
const orders = new Map<string, number[] | null>();
const MAX_SHAPES = 256;

/** Whether functions are the SDK's own, by their source (read once per function): not wrapped, patched or faked. */
const known = new WeakMap<object, boolean>();
function isSdks(fn: unknown, marks: readonly RegExp[]): boolean {
  if (typeof fn !== 'function') return false;
  let sdk = known.get(fn);
  if (sdk === undefined) {
    const text = Function.prototype.toString.call(fn);
    sdk = marks.every((mark) => mark.test(text));
    known.set(fn, sdk);
  }
  return sdk;
}

const SEND = [/command\.resolveMiddleware\(this\.middlewareStack, this\.config, options\)/, /handler\(command\)/];
const CONCAT = [/cloneTo\(constructStack\(\)\)/, /\.use\(from\)/];
const APPLY = [/toStack\.add\(entry\.middleware/, /toStack\.addRelativeTo\(entry\.middleware/];

/** The client, when it is an SDK client whose own `send` and stack this can stand in for. */
function sdkClient(client: unknown): SdkClient | undefined {
  const c = client as Partial<SdkClient> | undefined;
  if (!c || Object.hasOwn(c, 'send') || !c.config || c.config.cacheMiddleware === true) return undefined;
  if (!isSdks(c.send, SEND)) return undefined;
  // (a stack whose merge or listing is instrumented — a tracer wrapping the merged stack's `resolve` — is left to the SDK)
  const stack = c.middlewareStack as Partial<Stack> | undefined;
  if (!stack || !isSdks(stack.concat, CONCAT) || !isSdks(stack.applyToStack, APPLY) || typeof stack.identify !== 'function')
    return undefined;
  return c as SdkClient;
}

/**
 * The entries of the stacks, in the order they were added, and their kinds (`a` added with `add`, `r` with
 * `addRelativeTo`: the SDK orders the two apart), or `undefined` when a stack asks to log on resolve.
 */
function entriesOf(stacks: Stack[]): { entries: Entry[]; kinds: string } | undefined {
  const entries: Entry[] = [];
  let kinds = '';
  let logs = false;
  const collect = {
    add: (_middleware: unknown, options: Entry) => {
      entries.push(options);
      kinds += 'a';
    },
    addRelativeTo: (_middleware: unknown, options: Entry) => {
      entries.push(options);
      kinds += 'r';
    },
    identifyOnResolve: (toggle: boolean) => void (logs ||= toggle === true),
  };
  for (const stack of stacks) stack.applyToStack(collect);
  return logs ? undefined : { entries, kinds };
}

/** The fields of an entry that its place in the order depends on (besides its kind): what makes its shape. */
type ShapeEntry = Pick<Entry, 'name' | 'aliases' | 'step' | 'priority' | 'relation' | 'toMiddleware'>;
const shapeFields = ({ name, aliases, step, priority, relation, toMiddleware }: Entry): ShapeEntry => ({
  name,
  aliases: aliases ? [...aliases] : undefined,
  step,
  priority,
  relation,
  toMiddleware,
});

/** The SDK's order of the merged stack, as indices into `entries`, or `null` when its listing does not map back. */
function orderOf(merged: Stack, entries: Entry[]): number[] | null {
  const index = new Map<string, number>();
  let names = 0;
  entries.forEach((e, i) => {
    for (const name of [e.name!, ...(e.aliases ?? [])]) {
      index.set(name, i);
      names++;
    }
  });
  // (two entries of one name: the SDK keeps one, or refuses; its own path decides)
  if (index.size !== names) return null;
  const listed = merged.identify();
  if (listed.length !== entries.length) return null;
  const order: number[] = [];
  for (const line of listed) {
    // `name - step`, `name (a.k.a. other,names) - step` or `name - before other`
    const i = index.get(line.slice(0, line.indexOf(' ')));
    if (i === undefined) return null;
    order.push(i);
  }
  return new Set(order).size === entries.length ? order : null;
}

/** The merged stack's methods that leave it as it is. */
const READS = new Set<string | symbol>(['concat', 'clone', 'applyToStack', 'identify']);

/** The shape last seen with each client's stack, and its order: most calls match it field by field. */
const lastOf = new WeakMap<object, { kinds: string; fields: ShapeEntry[]; order: number[] | null }>();

function sameShape(last: { kinds: string; fields: ShapeEntry[] }, entries: Entry[], kinds: string): boolean {
  if (last.kinds !== kinds) return false;
  const { fields } = last;
  for (let i = 0; i < fields.length; i++) {
    const x = fields[i]!;
    const y = entries[i]!;
    if (
      x.name !== y.name ||
      x.step !== y.step ||
      x.priority !== y.priority ||
      x.relation !== y.relation ||
      x.toMiddleware !== y.toMiddleware
    )
      return false;
    if (x.aliases !== y.aliases && !sameNames(x.aliases, y.aliases)) return false;
  }
  return true;
}

function sameNames(a: string[] | undefined, b: string[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The client's stack, with a `concat` whose `resolve` builds the chain in a known order. What else is asked of the
 * merged stack (a command that hands it on, `identify()`) is answered by the SDK's own merge, made then.
 */
function orderedStack(clientStack: Stack): Stack {
  const stack = Object.create(clientStack) as Stack;
  stack.concat = (commandStack: Stack) => {
    const collected = entriesOf([clientStack, commandStack]);
    if (!collected) return clientStack.concat(commandStack);
    const { entries, kinds } = collected;
    let merged: Stack | undefined;
    const real = () => (merged ??= clientStack.concat(commandStack));
    const last = lastOf.get(clientStack);
    let order = last && sameShape(last, entries, kinds) ? last.order : undefined;
    if (order === undefined) {
      // (an entry without a name cannot be found in the SDK's listing)
      if (entries.some((e) => !e.name)) return real();
      const fields = entries.map(shapeFields);
      const shape = JSON.stringify([kinds, fields]);
      order = orders.get(shape);
      if (order === undefined) {
        order = orderOf(real(), entries);
        if (orders.size >= MAX_SHAPES) orders.clear();
        orders.set(shape, order);
      }
      lastOf.set(clientStack, { kinds, fields, order });
    }
    if (order === null) return real();
    const known = order;
    // the merged stack as the SDK's, but for `resolve`; once anything changes it, the SDK's resolves it too
    let changed = false;
    const resolved = new Proxy({} as Stack, {
      get: (_, name) => {
        if (name === 'resolve')
          return (handler: unknown, context: unknown) => {
            if (changed) return real().resolve(handler, context);
            for (let i = known.length - 1; i >= 0; i--) handler = entries[known[i]!]!.middleware(handler, context);
            return handler;
          };
        const value = (real() as unknown as Record<string | symbol, unknown>)[name];
        if (typeof value !== 'function' || READS.has(name)) return value;
        return (...args: unknown[]) => {
          changed = true;
          return (value as (...a: unknown[]) => unknown)(...args);
        };
      },
    });
    return resolved;
  };
  return stack;
}

/**
 * `client.send(command, options)`, with the middleware chain's order worked out once per shape when the client is
 * an SDK client with the SDK's own `send` (see the module's comment); anything else is sent with its own `send`.
 */
export function sendResolved(client: DynamoDBSender, command: object, options?: { abortSignal?: AbortSignal }): unknown {
  const sdk = sdkClient(client);
  const resolve = (command as Partial<SdkCommand>).resolveMiddleware;
  if (!sdk || typeof resolve !== 'function') return client.send(command, options);
  const handler = resolve.call(command, orderedStack(sdk.middlewareStack), sdk.config, options);
  return handler(command).then((result) => result.output);
}
