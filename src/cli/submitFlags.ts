/**
 * The flags of `submit` each kind of job refuses (they would be ignored). A module of its own, without BullMQ: the
 * planners of export and diff units use it, and `rxjs-dynamodb/units` (which loads them) must load without the queue.
 */
import { CliError, EXIT } from './session.js';
import type { SubmitOptions } from './submitCommand.js';
import type { WorkUnit } from './units.js';

/** The flags of `submit` that some kinds of job take and others refuse, with their values. */
const flagValues = (o: SubmitOptions): Record<string, unknown> => ({
  '--from': o.from,
  '--to': o.to,
  '--table': o.table,
  '--all': o.all,
  '--filter': o.filter,
  '--names': o.names,
  '--values': o.values,
  '--set': o.set,
  '--add': o.add,
  '--remove': o.remove,
  '--transform': o.transform,
  '--create-table': o.createTable,
  '--key': o.key,
  '--output': o.output,
  '--format': o.format,
});

/**
 * Refuses (usage) the first of `flags` given to a job of this kind: a flag it does not take would be ignored.
 *
 * @param kind The job, for the message: `submit export: --from is not an option of an export`.
 * @param options What `submit` was given.
 * @param flags The flags this kind does not take.
 */
export function refuseFlags(kind: WorkUnit['kind'], options: SubmitOptions, flags: readonly string[]): void {
  const values = flagValues(options);
  const flag = flags.find((f) => values[f] !== undefined);
  if (flag !== undefined)
    throw new CliError(`submit ${kind}: ${flag} is not an option of ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`, EXIT.usage);
}
