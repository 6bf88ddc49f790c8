/**
 * Before a command writes to a table it did not get told where to find — no `--endpoint`, `--region` or `--local`,
 * so the SDK took the endpoint and region from the environment or the shared config — it says on stderr which
 * account and region it is about to change, unless the requests go to this machine (DynamoDB Local).
 */
import type { ConnectionOptions } from './options.js';
import { isLocalEndpoint, type Session } from './session.js';
import { describeTable } from './table.js';

/** Where a command's calls go, as the client resolved it. */
export interface ResolvedTarget {
  /** The URL the requests went to (`https://dynamodb.eu-west-1.amazonaws.com`); `undefined` when none was sent. */
  endpoint: string | undefined;
  /** The client's region. */
  region: string | undefined;
  /** The table's ARN from DescribeTable (`arn:aws:dynamodb:eu-west-1:123456789012:table/T`); absent for a table not made yet. */
  tableArn: string | undefined;
}

/** The account of an ARN (`arn:partition:service:region:account:resource`), when it has one. */
export function accountOf(arn: string | undefined): string | undefined {
  const account = arn?.split(':')[4];
  return account ? account : undefined;
}

/** AWS's own endpoints: named in the notice only when the requests go elsewhere (a proxy, a VPC endpoint, …). */
const AWS_HOST = /\.amazonaws\.com(\.cn)?$/i;

/**
 * The line to print before `action` (`delete items of table T`), or `undefined` when none is due: the flags chose
 * where to connect, or the requests go to this machine.
 */
export function targetNotice(action: string, given: ConnectionOptions, target: ResolvedTarget): string | undefined {
  if (given.endpoint !== undefined || given.region !== undefined || given.local) return undefined;
  if (target.endpoint !== undefined && isLocalEndpoint(target.endpoint)) return undefined;
  const account = accountOf(target.tableArn);
  const where = [
    ...(account ? [`account ${account}`] : []),
    `region ${target.region ?? '(none)'}`,
    ...(target.endpoint && !AWS_HOST.test(new URL(target.endpoint).hostname) ? [`through ${target.endpoint}`] : []),
  ].join(', ');
  return `About to ${action} in ${where} (from your AWS configuration; pass --region or --endpoint to choose explicitly).`;
}

/**
 * Prints {@link targetNotice} for `action` on stderr when it is due. The account comes from the ARN of the first of
 * `tables` that exists (a table to be created has none yet); the DescribeTable it takes is the command's own
 * (`describeTable` answers each table once per session), and its request tells where the calls go.
 */
export async function announceTarget(session: Session, given: ConnectionOptions, action: string, tables: string[]): Promise<void> {
  if (given.endpoint !== undefined || given.region !== undefined || given.local) return;
  let tableArn: string | undefined;
  for (const table of tables) {
    tableArn = (await describeTable(session.client, table, session.signal))?.TableArn;
    if (tableArn) break;
  }
  const region = await session.client.config.region();
  const notice = targetNotice(action, given, { endpoint: session.meter.endpoint, region, tableArn });
  if (notice) process.stderr.write(`${notice}\n`);
}
