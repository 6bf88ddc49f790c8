/**
 * Money transfers between accounts, each one atomic: a transaction takes the amount from the payer (only if the
 * balance covers it), adds it to the payee (only if that account exists), and writes a ledger entry (only if there
 * is none with its id). Ten accounts open with 1,000 each; of ten transfers, one asks for more than its payer holds
 * by then, so DynamoDB cancels it, nothing of it is written, and the outcome says which action's condition failed.
 * The transfers of one account go one after another, in order; the total balance is the same before and after.
 * Each run opens the accounts again and writes its ledger entries under its own run id, so it runs any number of times.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/transfer.ts`
 * (`DYNAMODB_ENDPOINT` overrides http://127.0.0.1:8000).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { from, lastValueFrom, map, reduce, toArray } from 'rxjs';
import { dynamoBatchWrite, dynamoScan, dynamoTransactWrite, type TransactCancelled, type TransactGroup } from 'rxjs-dynamodb';

export interface Transfer {
  from: string;
  to: string;
  amount: number;
}

export const OPENING_BALANCE = 1_000;
export const ACCOUNTS = Array.from({ length: 10 }, (_, i) => `a#${i}`);

/** Transfer 5 asks a#3 for 400 after transfer 2 took 700 of its 1,000: it would overdraw. */
export const TRANSFERS: Transfer[] = [
  { from: 'a#0', to: 'a#1', amount: 250 },
  { from: 'a#1', to: 'a#2', amount: 500 },
  { from: 'a#3', to: 'a#4', amount: 700 },
  { from: 'a#2', to: 'a#0', amount: 100 },
  { from: 'a#5', to: 'a#6', amount: 999 },
  { from: 'a#3', to: 'a#5', amount: 400 },
  { from: 'a#6', to: 'a#7', amount: 1_500 },
  { from: 'a#8', to: 'a#9', amount: 50 },
  { from: 'a#9', to: 'a#8', amount: 1_050 },
  { from: 'a#7', to: 'a#3', amount: 300 },
];

export async function transfer(
  endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  accounts = 'TransferAccounts',
  ledger = 'TransferLedger',
  transfers = TRANSFERS,
) {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  for (const table of [accounts, ledger])
    await client
      .send(
        new CreateTableCommand({
          TableName: table,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        }),
      )
      .catch((error: Error) => {
        if (error.name !== 'ResourceInUseException') throw error; // there from an earlier run
      });
  await lastValueFrom(from(ACCOUNTS.map((id) => ({ id, balance: OPENING_BALANCE }))).pipe(dynamoBatchWrite(client, accounts)));
  const totalBalance = () =>
    lastValueFrom(dynamoScan<{ balance: number }>(client, { TableName: accounts }).pipe(reduce((sum, a) => sum + Number(a.balance), 0)));
  const before = await totalBalance();

  const run = randomUUID().slice(0, 8); // this run's ledger ids: an entry is written once, whatever retries happen
  const at = new Date().toISOString();
  const outcomes = await lastValueFrom(
    from(transfers).pipe(
      map(({ from: payer, to: payee, amount }, i): TransactGroup => [
        {
          table: accounts,
          key: { id: payer },
          update: { add: { balance: -amount } },
          condition: { balance: { ge: amount } },
          returnOnConditionFailure: true, // a cancelled transfer's reason then holds the payer's balance
        },
        { table: accounts, key: { id: payee }, update: { add: { balance: amount } }, condition: { attributeExists: 'id' } },
        { table: ledger, put: { id: `${run}#${i}`, from: payer, to: payee, amount, at }, condition: { attributeNotExists: 'id' } },
      ]),
      dynamoTransactWrite(client, { keyAttributes: { [accounts]: ['id'], [ledger]: ['id'] } }),
      toArray(),
    ),
  );
  const after = await totalBalance();

  const written = outcomes.filter((o) => o.status === 'written').length;
  const cancelled = outcomes.filter((o): o is TransactCancelled => o.status === 'cancelled').sort((a, b) => a.index - b.index);
  const failed = outcomes.filter((o) => o.status === 'invalid' || o.status === 'failed');
  for (const o of failed) console.error(`transfer ${o.index}: ${'error' in o ? o.error.message : o.status}`);
  const why = cancelled.map((o) => `transfer ${o.index}: ${describe(o, transfers[o.index], accounts)}`).join('; ');
  console.log(
    `${written} transfer${written === 1 ? '' : 's'} written, ${cancelled.length} cancelled${why ? ` (${why})` : ''}${failed.length ? `, ${failed.length} failed` : ''}, ` +
      `total balance ${before} ${before === after ? 'before and after' : `before, ${after} after`}`,
  );
  client.destroy();
  return {
    run,
    written,
    cancelled: cancelled.map((o) => ({ index: o.index, reasons: o.reasons.map(({ index, code, item }) => ({ index, code, item })) })),
    failed: failed.length,
    before,
    after,
  };
}

/** Why DynamoDB cancelled a transfer, from its reasons: each names the action whose condition failed. */
function describe(outcome: TransactCancelled, { amount }: Transfer, accounts: string): string {
  return outcome.reasons
    .map(({ index, action, code, item }) => {
      if (code !== 'ConditionalCheckFailed') return `${code} on action ${index}`;
      if ('put' in action) return `ledger entry ${String(action.put.id)} is there already`;
      const id = 'key' in action ? String(action.key.id) : '?';
      if (index === 1) return `no account ${id} in ${accounts}`;
      return `insufficient balance on account ${id}: it holds ${String(item?.balance)}, the transfer asks ${amount}`;
    })
    .join(', ');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await transfer();
