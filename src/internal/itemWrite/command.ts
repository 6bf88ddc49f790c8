/**
 * The single-item commands (UpdateItem, PutItem, DeleteItem) with their request body written once, as the batch
 * commands are (`../engine/fastCommand.ts`): the input is already marshalled, so its JSON is the body — the SDK would
 * otherwise walk every AttributeValue again to serialize it, and once more for a log line its default logger drops.
 * The SDK is handed `TableName` alone (its endpoint rules read it); anyone who reads the other fields (a wrapper, a
 * test fake) gets them, and then the SDK's own serialization.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { fastCommand } from '../engine/fastCommand.js';
import { attributeValuesOf } from '../marshal.js';

/** A marshalled attribute map (a key, an item, expression values) as the DynamoDB JSON text that goes on the wire. */
export class WireMap {
  private parsed: Record<string, AttributeValue> | undefined;
  constructor(readonly text: string) {}
  /** The AttributeValues, for whoever reads the command's input instead of its body. */
  get value(): Record<string, AttributeValue> {
    return (this.parsed ??= attributeValuesOf(this.text));
  }
}

/**
 * A command of class `Command` for an `input` whose attribute maps are {@link WireMap}s and whose other fields are
 * plain JSON (`TableName`, expressions and their names, flags): the body is their JSON, the maps' text spliced in.
 * `sender`: the client it will be sent with (see `fastCommand`).
 */
export function itemCommand<C>(Command: new (input: never) => C, input: Record<string, unknown>, sender?: unknown): C {
  let body = '{';
  const lazy: string[] = [];
  for (const name in input) {
    const value = input[name];
    if (body.length > 1) body += ',';
    body += `${JSON.stringify(name)}:${value instanceof WireMap ? value.text : JSON.stringify(value)}`;
    if (name !== 'TableName') lazy.push(name);
  }
  body += '}';
  let full: Record<string, unknown> | undefined;
  const build = () => {
    const out: Record<string, unknown> = {};
    for (const name in input) {
      const value = input[name];
      out[name] = value instanceof WireMap ? value.value : value;
    }
    return out;
  };
  return fastCommand(
    Command as new (input: object) => C,
    { body, stub: { TableName: input.TableName }, input: () => (full ??= build()), lazy },
    sender,
  );
}
