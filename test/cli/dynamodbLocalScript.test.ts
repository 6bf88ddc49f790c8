import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPortFree } from '../../src/cli/dynamoLocal.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let server: Server;
let taken: number;

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  taken = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('npm run dynamodb-local (scripts/dynamodb-local.ts)', () => {
  it('should refuse a port that another process listens on, saying so', async () => {
    await expect(checkPortFree(taken)).rejects.toThrow(`Port ${taken} is taken: another process listens on it.`);
  });

  it('should exit 1 with a message, starting no Java, when PORT is taken', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dynamodb-local.ts'], {
      cwd: root,
      env: { ...process.env, PORT: String(taken) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`DynamoDB Local did not start: Port ${taken} is taken`);
    expect(stdout).not.toContain('is up');
  }, 60_000);
});
