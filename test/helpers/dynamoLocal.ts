/** The tests start DynamoDB Local the way the CLI and the demo do. */
export { freePort, localClient, startDynamoLocal, type DynamoLocal } from '../../src/cli/dynamoLocal.js';
