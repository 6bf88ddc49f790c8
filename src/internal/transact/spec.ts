/**
 * What a transaction operator tells the engine (`TransactSpec`): how a group is checked, prepared and sent, and what
 * an answer holds; and how a group ended (`GroupEnd`), for the operator to turn into its outcome. Types only.
 */
import type { AttributeValue, ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { TransactionError, TransactionReason } from '../../errors.js';
import type { Unmarshal } from '../unmarshal.js';

/** The call a transaction operator makes. */
export type TransactOperation = 'TransactWriteItems' | 'TransactGetItems';

/** A group made ready to send. */
export interface PreparedGroup {
  /** `table`, NUL, key identity: one per item the group touches. */
  items: string[];
  /** Capacity units one attempt is estimated to cost. */
  units: number;
  /** The table a capacity budget reads its provisioned capacity from: the first action's. */
  table: string;
  /** The `ClientRequestToken` sent with every attempt, if any. */
  token?: string;
  /** `action 1 (update of table Accounts, pk="alice")`, for messages. */
  where(action: number): string;
}

/** What a transaction call answers with. */
export interface TransactOutput {
  ConsumedCapacity?: ConsumedCapacity[];
  Responses?: Array<{ Item?: Record<string, AttributeValue> }>;
}

/** What one transaction operator tells the engine. */
export interface TransactSpec<G, P extends PreparedGroup> {
  operation: TransactOperation;
  kind: 'read' | 'write';
  /** The tables a group names (their key attributes are needed to prepare it), or why it is refused at once. */
  tablesOf(group: unknown, index: number): string[] | TransactionError<G>;
  /** Checks and prepares a group once its tables' key attributes are known, or refuses it. */
  prepare(group: G, index: number, keyAttributesOf: (table: string) => string[]): P | TransactionError<G>;
  /** The command of one attempt. */
  command(prepared: P, askConsumed: 'TOTAL' | 'INDEXES' | undefined): object;
  /** What a successful answer holds for the outcome (read items); a throw fails the group. @default nothing */
  read?(prepared: P, output: TransactOutput, unmarshal: Unmarshal): unknown;
}

/** How a group ended, for the operator to turn into its outcome. */
export type GroupEnd<G, P> =
  | {
      status: 'done';
      group: G;
      index: number;
      attempts: number;
      prepared: P;
      output: TransactOutput;
      /** What `read` gave. */
      value?: unknown;
      /** An earlier group of this subscription with the same token was written less than 10 minutes before: this call changed nothing. */
      replayOf?: number;
    }
  | { status: 'cancelled'; group: G; index: number; attempts: number; prepared: P; reasons: TransactionReason[] }
  | { status: 'invalid' | 'failed'; group: G; index: number; attempts: number; error: TransactionError<G> };
