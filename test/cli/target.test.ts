/**
 * `targetNotice` (issue 11): the line a writing command prints before it changes a table that no flag chose — the
 * account and region the SDK took from the environment — and only then.
 */
import { describe, expect, it } from 'vitest';
import { accountOf, targetNotice } from '../../src/cli/target.js';

const arn = 'arn:aws:dynamodb:eu-west-1:123456789012:table/T';
const aws = { endpoint: 'https://dynamodb.eu-west-1.amazonaws.com', region: 'eu-west-1', tableArn: arn };
const tail = '(from your AWS configuration; pass --region or --endpoint to choose explicitly).';

describe('targetNotice (issue 11)', () => {
  it.each([
    ['AWS, from the configuration', {}, aws, `About to delete items of table T in account 123456789012, region eu-west-1 ${tail}`],
    [
      'the China partition',
      {},
      {
        endpoint: 'https://dynamodb.cn-north-1.amazonaws.com.cn',
        region: 'cn-north-1',
        tableArn: 'arn:aws-cn:dynamodb:cn-north-1:210987654321:table/T',
      },
      `About to delete items of table T in account 210987654321, region cn-north-1 ${tail}`,
    ],
    [
      'an endpoint from the environment that is not AWS nor this machine',
      {},
      { ...aws, endpoint: 'http://10.0.0.5:8000' },
      `About to delete items of table T in account 123456789012, region eu-west-1, through http://10.0.0.5:8000 ${tail}`,
    ],
    ['a table not made yet (no ARN)', {}, { ...aws, tableArn: undefined }, `About to delete items of table T in region eu-west-1 ${tail}`],
    [
      'no request sent yet (the endpoint unknown)',
      {},
      { ...aws, endpoint: undefined },
      `About to delete items of table T in account 123456789012, region eu-west-1 ${tail}`,
    ],
    ['--endpoint given', { endpoint: 'https://dynamodb.eu-west-1.amazonaws.com' }, aws, undefined],
    ['--region given', { region: 'eu-west-1' }, aws, undefined],
    ['--local given', { local: true }, aws, undefined],
    ['a loopback endpoint from the environment (127.0.0.1)', {}, { ...aws, endpoint: 'http://127.0.0.1:8000' }, undefined],
    ['a loopback endpoint from the environment (localhost)', {}, { ...aws, endpoint: 'http://localhost:8000' }, undefined],
    ['a loopback endpoint from the environment ([::1])', {}, { ...aws, endpoint: 'http://[::1]:8000' }, undefined],
  ])('should give the right line for %s', (_, given, target, expected) => {
    expect(targetNotice('delete items of table T', given, target)).toBe(expected);
  });

  it('should take the account from an ARN, and nothing from what is not one', () => {
    expect(accountOf(arn)).toBe('123456789012');
    expect(accountOf('arn:aws:dynamodb:ddblocal:000000000000:table/T')).toBe('000000000000');
    expect(accountOf(undefined)).toBeUndefined();
    expect(accountOf('T')).toBeUndefined();
  });
});
