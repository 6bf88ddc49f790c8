/**
 * What a group must be before anything is sent: a non-empty array of at most {@link TRANSACT_MAX_ACTIONS} actions,
 * each naming its table, each key of string, number or binary values. A group that is not gets a `TransactionError`
 * (`transaction.invalidGroup`) naming it and the action; so does one its operator's `prepare` refuses. Plain
 * synchronous functions.
 */
import { TransactionError, type TransactionProblem } from '../../errors.js';
import { TRANSACT_MAX_ACTIONS } from '../constants.js';
import { describeKeyValues, nativeKey } from '../engine/entry.js';
import { preview } from '../prepare.js';
import { prepareFailedMessage } from './messages.js';
import type { PreparedGroup, TransactOperation, TransactSpec } from './spec.js';

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a key value is not one DynamoDB takes (missing, not a key type, empty), or `undefined`. Twin: `../itemWrite/prepare.ts`. */
function keyValueProblem(v: unknown): string | undefined {
  if (v === undefined || v === null) return 'is missing';
  if (nativeKey({ v }, ['v']) === undefined) return 'must be a string, number or binary';
  if ((typeof v === 'string' && v.length === 0) || (ArrayBuffer.isView(v) && v.byteLength === 0))
    return 'is empty; DynamoDB rejects empty key values';
  return undefined;
}

/**
 * The key attributes of `values` (other attributes left out: DynamoDB rejects them in a key) and the key's identity
 * as DynamoDB compares it (`1` and `1.0` are one key), or what is wrong with it.
 */
export function keyOf(
  values: Record<string, unknown>,
  attributes: string[],
): { key: Record<string, unknown>; identity: string } | { problem: string } {
  const key: Record<string, unknown> = {};
  for (const a of attributes) {
    const problem = keyValueProblem(values[a]);
    if (problem) return { problem: `key attribute "${a}" ${problem} (key ${describeKeyValues(values, attributes)})` };
    key[a] = values[a];
  }
  return { key, identity: nativeKey(key, attributes)! };
}

/**
 * The tables a group names, or why it is refused before anything: not a non-empty array, more than 100 actions, an
 * action that is not an object with a table name.
 */
export function tablesOfGroup<G>(operation: TransactOperation, group: unknown, index: number): string[] | TransactionError<G> {
  if (!Array.isArray(group) || group.length === 0)
    return invalidGroup(
      operation,
      group as G,
      index,
      'group.malformed',
      `Group ${index} must be a non-empty array of actions, got ${preview(group)}. It was not sent.`,
    );
  if (group.length > TRANSACT_MAX_ACTIONS)
    return invalidGroup(
      operation,
      group as G,
      index,
      'group.tooManyActions',
      `Group ${index} has ${group.length} actions; ${operation} takes at most ${TRANSACT_MAX_ACTIONS}. It was not sent: split it (the parts would not be atomic together).`,
    );
  const tables = new Set<string>();
  for (let i = 0; i < group.length; i++) {
    const action: unknown = group[i];
    if (!isObject(action) || typeof action.table !== 'string' || action.table.length === 0)
      return invalidGroup(
        operation,
        group as G,
        index,
        'action.malformed',
        `Group ${index}, action ${i}: an action is an object with a table name, got ${preview(action)}. The group was not sent.`,
        i,
      );
    tables.add(action.table);
  }
  return [...tables];
}

/** A group refused before any call. */
export function invalidGroup<G>(
  operation: TransactOperation,
  group: G,
  index: number,
  problem: TransactionProblem,
  message: string,
  action?: number,
  cause?: unknown,
): TransactionError<G> {
  return new TransactionError<G>('transaction.invalidGroup', message, {
    operation,
    groupIndex: index,
    action,
    problem,
    unprocessed: [group],
    attempts: 0,
    cause,
  });
}

/** `spec.prepare`, with a throw turned into a refusal of the group (`group.malformed`). Twin: `prepareRequest` (`../itemWrite/prepare.ts`). */
export function prepareGroup<G, P extends PreparedGroup>(
  spec: TransactSpec<G, P>,
  group: G,
  index: number,
  keyAttributesOf: (table: string) => string[],
): P | TransactionError<G> {
  try {
    return spec.prepare(group, index, keyAttributesOf);
  } catch (error) {
    return invalidGroup(spec.operation, group, index, 'group.malformed', prepareFailedMessage(index, error), undefined, error);
  }
}
