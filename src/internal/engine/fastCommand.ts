/**
 * Batch commands whose request body the toolkit writes itself, and whose response it may read itself. The engine
 * has already turned every item into the exact DynamoDB JSON that goes on the wire (and measured it to the byte, for
 * the 16 MiB limit); the SDK would walk every AttributeValue again to serialize it, and once more to build a log line
 * that its default logger throws away. So the command carries middlewares that:
 * - hand the SDK a one-line input (the table names only, which the endpoint rules read) and put the prepared body in
 *   place before the request is measured and signed;
 * - with the SDK's default (no-op) logger, skip building the filtered copies of input and output it would log;
 * - with `parse`, read a successful response's JSON themselves (one `JSON.parse`, straight to what the engine needs)
 *   instead of the SDK's schema walk; the output still answers `Responses`, `UnprocessedKeys`, … when asked.
 *
 * The command's `input` is still the full, ordinary one for anyone who looks: it is built from the prepared JSON on
 * first access. A wrapper that reads the input (a fault injector, a logger of its own) gets the SDK's normal
 * serialization of what it may have changed, and {@link parsedOutput} tells whether an output is still the one the
 * toolkit read (a wrapper that made a new output gets its own values used).
 */
import { attributeValuesOf } from '../marshal.js';

/** The prepared parts of a batch command. */
export interface PreparedBody<I, P = unknown> {
  /** The whole JSON request body. */
  body: string;
  /** The input with only what the SDK reads before it serializes: `RequestItems` with empty lists, flags. */
  stub: I;
  /** The full input, built on demand. */
  input: () => I;
  /** Reads a successful response body; its result is what {@link parsedOutput} gives. */
  parse?: (json: Record<string, unknown>) => P;
  /** The input's fields that `stub` leaves out and `input()` builds when one is read. @default ['RequestItems'] */
  lazy?: readonly string[];
}

interface Stack {
  add(middleware: unknown, options: { step: string; priority?: string; name: string }): void;
}
interface Args {
  input: unknown;
  request?: { body?: unknown; headers?: Record<string, string> };
}
interface Context {
  logger?: { constructor?: { name?: string } };
  dynamoDbDocumentClientOptions?: Record<string, unknown>;
  [PARSED]?: { text: string; names: string[]; value: unknown };
  [STATE]?: FastState;
}
interface Response {
  statusCode?: number;
  body?: unknown;
}

const PARSED = Symbol('rxjs-dynamodb parsed output');
const quiet = () => undefined;

/** The output's value as the toolkit parsed it, or `undefined` when the output was not read by it or was replaced since. */
export function parsedOutput<P>(output: object): P | undefined {
  const own = Object.getOwnPropertyDescriptor(output, PARSED);
  return own ? (own.value as P) : undefined;
}

async function bodyText(body: unknown): Promise<string> {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * What the middlewares need of one command: its prepared parts, and whether its input was read (then the SDK
 * serializes it as ever). Once its input is swapped for the stub, the call's context holds it (`STATE`).
 */
interface FastState {
  prepared: PreparedBody<object>;
  input: object;
  touched: boolean;
}

/** Each command's state, by the command's input (the Proxy the SDK is given): what a client's middlewares look up. */
const states = new WeakMap<object, FastState>();
/** The middleware stacks (a client's) that hold the three middlewares already. */
const installed = new WeakSet<object>();
/** The state of the call a client-level middleware is in, from the initialize step on. */
const STATE = Symbol('rxjs-dynamodb fast command');

/** Initialize: an untouched input is swapped for the stub (what the endpoint rules read), and log copies skipped. */
const swapInput = (own?: FastState) => (next: (args: Args) => Promise<{ output: object }>, context: Context) => async (args: Args) => {
  const state = own ?? states.get(args.input as object);
  if (!state || state.touched || args.input !== state.input) return next(args);
  context[STATE] = state;
  if (!context.logger || context.logger.constructor?.name === 'NoOpLogger')
    context.dynamoDbDocumentClientOptions = {
      ...context.dynamoDbDocumentClientOptions,
      overrideInputFilterSensitiveLog: quiet,
      overrideOutputFilterSensitiveLog: quiet,
    };
  const result = await next({ ...args, input: state.prepared.stub });
  const parsed = context[PARSED];
  if (parsed) answerLazily(result.output, parsed);
  return result;
};

/** Build: the prepared body in place of what the SDK serialized from the stub. */
const putBody = (next: (args: Args) => Promise<unknown>, context: Context) => (args: Args) => {
  const state = context[STATE];
  if (state && args.request) {
    const { body } = state.prepared;
    args.request.body = body;
    if (args.request.headers) args.request.headers['content-length'] = String(Buffer.byteLength(body));
  }
  return next(args);
};

/** Deserialize: a successful response read by the command's own `parse`, and an empty body left to the SDK. */
const readOutput = (next: (args: Args) => Promise<{ response: Response }>, context: Context) => async (args: Args) => {
  const result = await next(args);
  const state = context[STATE];
  const parse = state?.prepared.parse;
  const { response } = result;
  // (read once: a command with its own middlewares may be sent through a client that has them too)
  if (!parse || context[PARSED] || !response || (response.statusCode ?? 0) < 200 || (response.statusCode ?? 0) >= 300) return result;
  const text = await bodyText(response.body);
  const json = JSON.parse(text) as Record<string, unknown>;
  context[PARSED] = { text, names: Object.keys(json), value: parse(json) };
  response.body = Buffer.from('{}');
  return result;
};

const INITIALIZE = { step: 'initialize', priority: 'high', name: 'rxjsDynamodbPreparedInput' };
const BUILD = { step: 'build', priority: 'high', name: 'rxjsDynamodbPreparedBody' };
// after the SDK's deserializer in the chain, so it sees the raw response first
const DESERIALIZE = { step: 'deserialize', priority: 'low', name: 'rxjsDynamodbParsedOutput' };

/** Whether a stack holds a middleware of this name (`identify()` lists them as `name - step`). */
function hasMiddleware(stack: Stack, name: string): boolean {
  const identify = (stack as { identify?: () => string[] }).identify;
  return typeof identify === 'function' && identify.call(stack).some((entry) => entry.split(' ')[0] === name);
}

/** The middleware stack of an SDK client (or document client), or `undefined` for anything else with a `send`. */
function stackOf(sender: unknown): Stack | undefined {
  const stack = (sender as { middlewareStack?: Partial<Stack> } | undefined)?.middlewareStack;
  return stack && typeof stack.add === 'function' ? (stack as Stack) : undefined;
}

/**
 * A command of class `Command` with a lazily built `input` and the prepared body. `Command` is the SDK's own class,
 * so that everything recognising batch commands by class (the SDK, fault injectors, test fakes) still does.
 *
 * With `sender` an SDK client, the three middlewares are added to its stack once (they leave every other command
 * alone): a stack of a command's own costs the SDK a merge and sort of every middleware on each call. With any other
 * sender (a wrapper around a client's `send`, a fake), they go on the command's own stack.
 */
export function fastCommand<C, I extends object, P = unknown>(
  Command: new (input: I) => C,
  prepared: PreparedBody<I, P>,
  sender?: unknown,
): C {
  let full: I | undefined;
  const input = lazyInput(prepared, () => {
    state.touched = true;
    return (full ??= prepared.input());
  });
  const state: FastState = { prepared: prepared as PreparedBody<object>, input, touched: false };
  const command = new Command(input);
  const shared = stackOf(sender);
  if (shared) {
    states.set(input, state);
    if (!installed.has(shared)) {
      installed.add(shared);
      // (a stack cloned from one that has them — a document client made from the client — has them already)
      for (const [middleware, where] of [
        [swapInput(), INITIALIZE],
        [putBody, BUILD],
        [readOutput, DESERIALIZE],
      ] as const)
        if (!hasMiddleware(shared, where.name)) shared.add(middleware, where);
    }
    return command;
  }
  // (names of their own: the client it is sent through in the end may hold the shared ones, which leave it alone)
  const stack = (command as unknown as { middlewareStack: Stack }).middlewareStack;
  stack.add(swapInput(state), { ...INITIALIZE, name: `${INITIALIZE.name}Own` });
  stack.add(putBody, { ...BUILD, name: `${BUILD.name}Own` });
  if (prepared.parse) stack.add(readOutput, { ...DESERIALIZE, name: `${DESERIALIZE.name}Own` });
  return command;
}

/**
 * The command's input: the stub's fields, and the lazy ones from `full()` when first read (or written, or listed and
 * read by a spread). One Proxy, not a getter defined per field: defining them cost ~4 µs a command.
 */
function lazyInput<I extends object>(prepared: PreparedBody<I>, full: () => I): I {
  return new Proxy(new LazyInput(prepared.stub as Record<string, unknown>, prepared.lazy ?? ['RequestItems'], full), LAZY) as unknown as I;
}

/** The state of one lazy input: its stub, the names of its lazy fields, and the full input once built. */
class LazyInput {
  /** Once a lazy field is read or anything changed, the full input is the one truth. */
  private whole: Record<string | symbol, unknown> | undefined;
  private names: Array<string | symbol> | undefined;

  constructor(
    private readonly stub: Record<string, unknown>,
    private readonly lazy: readonly string[],
    private readonly full: () => object,
  ) {}

  all(): Record<string | symbol, unknown> {
    return (this.whole ??= this.full() as Record<string | symbol, unknown>);
  }

  value(name: string | symbol): unknown {
    if (this.whole || (typeof name === 'string' && this.lazy.includes(name))) return this.all()[name];
    return Object.hasOwn(this.stub, name) ? this.stub[name as string] : undefined;
  }

  keys(): Array<string | symbol> {
    if (this.whole) return Reflect.ownKeys(this.whole);
    return (this.names ??= [...Object.keys(this.stub).filter((name) => !this.lazy.includes(name)), ...this.lazy]);
  }
}

/** One handler for every lazy input (a handler of closures per command cost a few allocations a call). */
const LAZY: ProxyHandler<LazyInput> = {
  get: (t, name) => t.value(name),
  has: (t, name) => t.keys().includes(name),
  ownKeys: (t) => [...t.keys()],
  getOwnPropertyDescriptor: (t, name) =>
    t.keys().includes(name) ? { value: t.value(name), writable: true, enumerable: true, configurable: true } : undefined,
  set: (t, name, v) => Reflect.set(t.all(), name, v),
  deleteProperty: (t, name) => Reflect.deleteProperty(t.all(), name),
  defineProperty: (t, name, descriptor) => Reflect.defineProperty(t.all(), name, { ...descriptor, configurable: true }),
  getPrototypeOf: () => Object.prototype,
};

/** The output answers every field of the response, built from its text when first read, and carries the parsed value. */
function answerLazily(output: object, { text, names, value }: { text: string; names: string[]; value: unknown }): void {
  let all: Record<string, unknown> | undefined;
  const field = (name: string) => () => (all ??= attributeValuesOf(text) as unknown as Record<string, unknown>)[name];
  for (const name of names)
    if (!(name in output)) Object.defineProperty(output, name, { enumerable: true, configurable: true, get: field(name) });
  Object.defineProperty(output, PARSED, { value, enumerable: false });
}
