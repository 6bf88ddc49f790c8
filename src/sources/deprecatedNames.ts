import { dynamoParallelScan } from './dynamoParallelScan.js';
import { dynamoQuery } from './dynamoQuery.js';
import { dynamoQueryPages } from './dynamoQueryPages.js';
import { dynamoScan } from './dynamoScan.js';
import { dynamoScanPages } from './dynamoScanPages.js';

// The sources' first names, kept so that code written against them still runs. `scan` clashed with RxJS's own `scan`
// operator, and they were the only public names without the `dynamo` prefix.

/** @deprecated Renamed {@link dynamoScan} (`scan` is also an RxJS operator). Same function. */
export const scan = dynamoScan;
/** @deprecated Renamed {@link dynamoScanPages}. Same function. */
export const scanPages = dynamoScanPages;
/** @deprecated Renamed {@link dynamoQuery}. Same function. */
export const query = dynamoQuery;
/** @deprecated Renamed {@link dynamoQueryPages}. Same function. */
export const queryPages = dynamoQueryPages;
/** @deprecated Renamed {@link dynamoParallelScan}. Same function. */
export const parallelScan = dynamoParallelScan;
