import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startDynamoLocal } from './dynamoLocal.js';
import { startRedis } from './redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    redisUrl: string;
  }
}

/** One DynamoDB Local (telemetry off) and one Redis for the whole run, each on a free loopback port; stopped by pid after. */
export default async function setup(project: TestProject) {
  const [local, redis] = await Promise.all([startDynamoLocal(), startRedis()]);
  project.provide('dynamoEndpoint', local.endpoint);
  project.provide('redisUrl', redis.url);
  return async () => {
    await Promise.all([local.stop(), redis.stop()]);
  };
}
