/** `rxjs-dynamodb/testing`: client wrappers that make DynamoDB (or DynamoDB Local) throttle, for testing pipelines. */
export { withSimulatedCapacity, capacityStats } from './withSimulatedCapacity.js';
export type { SimulatedCapacityOptions, SimulatedCapacityStats, SimulatedCapacityClient } from './withSimulatedCapacity.js';
export { withFaults, faultStats } from './withFaults.js';
export type { FaultOptions, FaultStats, FaultClient } from './withFaults.js';
