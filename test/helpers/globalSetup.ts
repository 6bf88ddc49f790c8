import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startDynamoLocal } from './dynamoLocal.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

/** One DynamoDB Local for the whole run, on a free loopback port, telemetry off; stopped by pid after. */
export default async function setup(project: TestProject) {
  const local = await startDynamoLocal();
  project.provide('dynamoEndpoint', local.endpoint);
  return async () => {
    await local.stop();
  };
}
