import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { ACCOUNTS, OPENING_BALANCE, transfer, TRANSFERS } from '../../examples/transfer.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll, uniqueTable } from '../helpers/tables.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The balances after the transfers, each applied in order only if its payer has the amount. */
const afterTransfers = Object.fromEntries(ACCOUNTS.map((id) => [id, OPENING_BALANCE]));
for (const { from, to, amount } of TRANSFERS)
  if (afterTransfers[from]! >= amount) {
    afterTransfers[from]! -= amount;
    afterTransfers[to]! += amount;
  }

const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));

async function tables(accounts: string, ledger: string) {
  const client = localClient(inject('dynamoEndpoint'));
  const [balances, entries] = [await scanAll(client, accounts), await scanAll(client, ledger)];
  client.destroy();
  return { balances: Object.fromEntries(balances.map((a) => [a.id, a.balance])), entries: entries.sort(byId) };
}

/** The ledger entries a run should write: one per transfer but the overdrawing one (transfer 5). */
const entriesOf = (run: string) =>
  TRANSFERS.map((t, i) => ({ id: `${run}#${i}`, from: t.from, to: t.to, amount: t.amount, at: expect.any(String) })).filter(
    (_, i) => i !== 5,
  );

describe('examples/transfer.ts', () => {
  it('should write nine transfers and cancel the one that would overdraw a#3, conserving the total balance', async () => {
    const [accounts, ledger] = [uniqueTable('Accounts'), uniqueTable('Ledger')];
    const outcome = await transfer(inject('dynamoEndpoint'), accounts, ledger);

    expect(outcome).toEqual({
      run: expect.any(String),
      written: 9,
      // the reason maps to action 0 (the payer's update), with the item as it was (returnOnConditionFailure)
      cancelled: [{ index: 5, reasons: [{ index: 0, code: 'ConditionalCheckFailed', item: { id: 'a#3', balance: 300 } }] }],
      failed: 0,
      before: 10_000,
      after: 10_000,
    });
    const { balances, entries } = await tables(accounts, ledger);
    expect(afterTransfers).toEqual({
      'a#0': 850,
      'a#1': 750,
      'a#2': 1_400,
      'a#3': 600, // 1,000 - 700 + 300: the 400 of transfer 5 never left it
      'a#4': 1_700,
      'a#5': 1, // 1,000 - 999: transfer 5 never paid it
      'a#6': 499,
      'a#7': 2_200,
      'a#8': 2_000,
      'a#9': 0, // exactly its balance: `ge` lets it go
    });
    expect(balances).toEqual(afterTransfers);
    expect(Object.values(balances).reduce((sum, b) => Number(sum) + Number(b), 0)).toBe(10_000);
    expect(entries).toEqual(entriesOf(outcome.run).sort(byId)); // no entry for transfer 5
  });

  it('should run a second time on the same tables (they are there from the first run) with the same outcome', async () => {
    const [accounts, ledger] = [uniqueTable('AccountsTwice'), uniqueTable('LedgerTwice')];
    const first = await transfer(inject('dynamoEndpoint'), accounts, ledger);
    const second = await transfer(inject('dynamoEndpoint'), accounts, ledger);

    expect(second).toEqual({ ...first, run: expect.any(String) });
    expect(second.run).not.toBe(first.run);
    const { balances, entries } = await tables(accounts, ledger);
    expect(balances).toEqual(afterTransfers); // the accounts opened again at 1,000
    expect(entries).toEqual([...entriesOf(first.run), ...entriesOf(second.run)].sort(byId));
  });

  it('should cancel a transfer to an account that does not exist, naming the payee action, and leave no trace', async () => {
    const [accounts, ledger] = [uniqueTable('Accounts'), uniqueTable('Ledger')];
    const outcome = await transfer(inject('dynamoEndpoint'), accounts, ledger, [
      { from: 'a#0', to: 'a#99', amount: 10 },
      { from: 'a#0', to: 'a#1', amount: 10 },
    ]);

    expect(outcome).toMatchObject({ written: 1, cancelled: [{ index: 0, reasons: [{ index: 1, code: 'ConditionalCheckFailed' }] }] });
    const { balances, entries } = await tables(accounts, ledger);
    expect(balances).toEqual({ ...Object.fromEntries(ACCOUNTS.map((id) => [id, OPENING_BALANCE])), 'a#0': 990, 'a#1': 1_010 });
    expect(entries).toEqual([{ id: `${outcome.run}#1`, from: 'a#0', to: 'a#1', amount: 10, at: expect.any(String) }]);
  });

  it('should run as a script and print what it did', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/transfer.ts'], {
      cwd: root,
      env: { ...process.env, DYNAMODB_ENDPOINT: inject('dynamoEndpoint') },
    });
    expect(stdout).toBe(
      '9 transfers written, 1 cancelled (transfer 5: insufficient balance on account a#3: it holds 300, the transfer asks 400), ' +
        'total balance 10000 before and after\n',
    );
  }, 60_000);
});
