import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  // Tests and examples import the package by name, as users do; they run against the source.
  resolve: {
    alias: [
      { find: /^rxjs-dynamodb\/testing$/, replacement: src('testing/index.ts') },
      { find: /^rxjs-dynamodb\/units$/, replacement: src('cli/units.ts') },
      { find: /^rxjs-dynamodb$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/globalSetup.ts'],
    reporters: ['default', './test/helpers/summaryReporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
