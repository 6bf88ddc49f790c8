import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshallItem } from './marshal.js';
import { numberSize } from './numbers.js';

export { numberSize };
import type { Item } from '../types.js';

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Size of one marshalled attribute value, by DynamoDB's item-size rules. */
export function attributeValueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, s) => sum + numberSize(s), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.byteLength, 0);
  if (value.L !== undefined) return value.L.reduce((sum, v) => sum + 1 + attributeValueSize(v), 3);
  if (value.M !== undefined) {
    let sum = 3;
    for (const [name, v] of Object.entries(value.M)) sum += 1 + utf8(name) + attributeValueSize(v);
    return sum;
  }
  return 0;
}

/** Size of a marshalled item (`Record<string, AttributeValue>`): the sum of its attribute names and values. */
export function marshalledItemSize(item: Record<string, AttributeValue>): number {
  let sum = 0;
  for (const [name, v] of Object.entries(item)) sum += utf8(name) + attributeValueSize(v);
  return sum;
}

/**
 * The size DynamoDB counts for an item, in bytes, following its published rules ("DynamoDB item sizes and
 * formats"): UTF-8 bytes of every attribute name plus the size of its value — strings in UTF-8 bytes, binary in raw
 * bytes, numbers at one byte per pair of digits (pairs aligned on the decimal point) plus one, one more when negative, lists and maps at 3 bytes plus 1 per element.
 * An item may be at most 409,600 bytes ({@link MAX_ITEM_BYTES}); capacity is charged per started KB written and per
 * started 4 KB read.
 *
 * ## Example
 * ```ts
 * import { itemSize } from 'rxjs-dynamodb';
 * itemSize({ pk: 'ticket#1', n: 7 }); // 2 + 8 + 1 + 2 = 13
 * ```
 *
 * @param item A plain JavaScript item (the document model) or, with `marshalled: true`, an `AttributeValue` map.
 * @returns The item's size in bytes.
 */
export function itemSize(item: Item, options: { marshalled?: boolean } = {}): number {
  return marshalledItemSize(
    options.marshalled
      ? (item as Record<string, AttributeValue>)
      : marshallItem(item, { removeUndefinedValues: true, convertClassInstanceToMap: true }),
  );
}
