/**
 * Batch commands whose request body the toolkit writes itself. The engine has already turned every item into the
 * exact DynamoDB JSON that goes on the wire (and measured it to the byte, for the 16 MiB limit); the SDK would walk
 * every AttributeValue again to serialize it, and once more to build a log line that its default logger throws
 * away. So the command carries two middlewares: one hands the SDK a one-line input (the table names only, which the
 * endpoint rules read), the other puts the prepared body in place before the request is measured and signed.
 *
 * The command's `input` is still the full, ordinary one for anyone who looks: it is built from the prepared JSON on
 * first access. A wrapper that reads the input (a fault injector, a logger of its own) gets the SDK's normal
 * serialization of what it may have changed: the prepared body is used only when nobody touched the input.
 */
/** The prepared parts of a batch command. */
export interface PreparedBody<I> {
  /** The whole JSON request body. */
  body: string;
  /** The input with only what the SDK reads before it serializes: `RequestItems` with empty lists, flags. */
  stub: I;
  /** The full input, built on demand. */
  input: () => I;
}

interface Stack {
  add(middleware: unknown, options: { step: string; priority?: string; name: string }): void;
}
interface Args {
  input: unknown;
  request?: { body?: unknown; headers?: Record<string, string> };
}

/**
 * A command of class `Command` with a lazily built `input` and the prepared body. `Command` is the SDK's own class,
 * so that everything recognising batch commands by class (the SDK, fault injectors, test fakes) still does.
 */
export function fastCommand<C, I extends object>(Command: new (input: I) => C, prepared: PreparedBody<I>): C {
  let full: I | undefined;
  let touched = false;
  let swapped = false;
  const input = {} as I;
  for (const [name, value] of Object.entries(prepared.stub)) {
    if (name === 'RequestItems') continue;
    (input as Record<string, unknown>)[name] = value;
  }
  Object.defineProperty(input, 'RequestItems', {
    enumerable: true,
    get: () => {
      touched = true;
      full ??= prepared.input();
      return (full as { RequestItems?: unknown }).RequestItems;
    },
  });
  const command = new Command(input);
  const stack = (command as unknown as { middlewareStack: Stack }).middlewareStack;
  stack.add(
    (next: (args: Args) => Promise<unknown>) => (args: Args) => {
      if (touched || args.input !== input) return next(args);
      swapped = true;
      return next({ ...args, input: prepared.stub });
    },
    { step: 'initialize', priority: 'high', name: 'rxjsDynamodbPreparedInput' },
  );
  stack.add(
    (next: (args: Args) => Promise<unknown>) => (args: Args) => {
      if (swapped && args.request) {
        args.request.body = prepared.body;
        if (args.request.headers) args.request.headers['content-length'] = String(Buffer.byteLength(prepared.body));
      }
      return next(args);
    },
    { step: 'build', priority: 'high', name: 'rxjsDynamodbPreparedBody' },
  );
  return command;
}
