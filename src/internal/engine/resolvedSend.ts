/**
 * Sending a command as an SDK client's own `send` does, without working out the order of its middleware chain again
 * on every call. The SDK's `send` merges the client's middleware stack with the command's, then normalizes, sorts and
 * expands every entry (thirty or so for DynamoDB) to find their order before it builds the chain — in a CPU profile of
 * single-item writes, more of the SDK's time per call than signing the request. That order depends only on the
 * entries' names, steps, priorities and relations, so it is worked out once per such shape (by the SDK itself, read
 * back from its `identify()`) and reused; each call still gets its own chain, built from the entries' middlewares in
 * that order with the call's own context, exactly as the SDK's `resolve` would build it.
 *
 * Anything this cannot be sure of is sent with the client's own `send`: a `send` that is not the SDK's (a wrapper, a
 * fake, a patched prototype), `cacheMiddleware` set, a stack that logs on resolve, an entry without a name, two
 * entries of one name. A middleware added to the client later changes the shape, so it is in the next call's chain.
 */

interface Entry {
  middleware: (next: unknown, context: unknown) => unknown;
  name?: string;
  aliases?: string[];
  step?: string;
  priority?: string;
  relation?: string;
  toMiddleware?: string;
  override?: boolean;
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

/** Whether a function is the SDK's own `Client.prototype.send` (read once per function). */
const sdkSends = new WeakMap<object, boolean>();
function isSdkSend(send: unknown): boolean {
  if (typeof send !== 'function') return false;
  let known = sdkSends.get(send);
  if (known === undefined) {
    const text = Function.prototype.toString.call(send);
    known = /command\.resolveMiddleware\(this\.middlewareStack, this\.config, options\)/.test(text) && /handler\(command\)/.test(text);
    sdkSends.set(send, known);
  }
  return known;
}

/** The client, when it is an SDK client whose own `send` this can stand in for. */
function sdkClient(client: unknown): SdkClient | undefined {
  const c = client as Partial<SdkClient> | undefined;
  if (!c || Object.hasOwn(c, 'send') || !isSdkSend(c.send) || !c.config || c.config.cacheMiddleware === true) return undefined;
  const stack = c.middlewareStack as Partial<Stack> | undefined;
  if (!stack || typeof stack.applyToStack !== 'function' || typeof stack.concat !== 'function' || typeof stack.identify !== 'function')
    return undefined;
  return c as SdkClient;
}

/** The entries of the stacks, in the order they were added, or `undefined` when one asks to log on resolve. */
function entriesOf(stacks: Stack[]): Entry[] | undefined {
  const entries: Entry[] = [];
  let logs = false;
  const collect = {
    add: (_middleware: unknown, options: Entry) => void entries.push(options),
    addRelativeTo: (_middleware: unknown, options: Entry) => void entries.push(options),
    identifyOnResolve: (toggle: boolean) => void (logs ||= toggle === true),
  };
  for (const stack of stacks) stack.applyToStack(collect);
  return logs ? undefined : entries;
}

/** What the order of the entries depends on, or `undefined` for entries whose order cannot be read back by name. */
function shapeOf(entries: Entry[]): string | undefined {
  let shape = '';
  for (const e of entries) {
    if (!e.name) return undefined;
    shape += `${e.name}\u0000${e.aliases?.join(',') ?? ''}\u0000${e.step ?? ''}\u0000${e.priority ?? ''}\u0000${e.relation ?? ''}\u0000${e.toMiddleware ?? ''}\u0001`;
  }
  return shape;
}

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

/** The last entries seen with each client's stack, and their order: most calls match them field by field. */
const lastOf = new WeakMap<object, { entries: Entry[]; order: number[] | null }>();

function sameShape(a: Entry[], b: Entry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.name !== y.name ||
      x.step !== y.step ||
      x.priority !== y.priority ||
      x.relation !== y.relation ||
      x.toMiddleware !== y.toMiddleware
    )
      return false;
    if ((x.aliases?.join(',') ?? '') !== (y.aliases?.join(',') ?? '')) return false;
  }
  return true;
}

/** The client's stack, with a `concat` whose `resolve` builds the chain in a known order. */
function orderedStack(clientStack: Stack): Stack {
  const stack = Object.create(clientStack) as Stack;
  stack.concat = (commandStack: Stack) => {
    const entries = entriesOf([clientStack, commandStack]);
    if (!entries) return clientStack.concat(commandStack);
    const last = lastOf.get(clientStack);
    let order = last && sameShape(last.entries, entries) ? last.order : undefined;
    let merged: Stack | undefined;
    if (order === undefined) {
      const shape = shapeOf(entries);
      if (shape === undefined) return clientStack.concat(commandStack);
      order = orders.get(shape);
      if (order === undefined) {
        merged = clientStack.concat(commandStack);
        order = orderOf(merged, entries);
        if (orders.size >= MAX_SHAPES) orders.clear();
        orders.set(shape, order);
      }
      lastOf.set(clientStack, { entries, order });
    }
    if (order === null) return merged ?? clientStack.concat(commandStack);
    const known = order;
    const resolved = Object.create(merged ?? clientStack) as Stack;
    resolved.resolve = (handler: unknown, context: unknown) => {
      for (let i = known.length - 1; i >= 0; i--) handler = entries[known[i]!]!.middleware(handler, context);
      return handler;
    };
    return resolved;
  };
  return stack;
}

/**
 * `client.send(command, options)`, with the middleware chain's order worked out once per shape when the client is
 * an SDK client with the SDK's own `send` (see the module's comment); anything else is sent with its own `send`.
 */
export function sendResolved(client: { send: (...args: never[]) => unknown }, command: object, options?: object): unknown {
  const sdk = sdkClient(client);
  const resolve = (command as Partial<SdkCommand>).resolveMiddleware;
  if (!sdk || typeof resolve !== 'function') return (client.send as (command: object, options?: object) => unknown)(command, options);
  const handler = resolve.call(command, orderedStack(sdk.middlewareStack), sdk.config, options);
  return handler(command).then((result) => result.output);
}
