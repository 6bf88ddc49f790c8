import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { checkPortFree, freePort, localClient } from '../../src/cli/dynamoLocal.js';

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

describe('rxjs-dynamodb local (the same for a project that installed the package)', () => {
  const cli = (args: string[]) =>
    spawn(process.execPath, ['dist/cli/index.js', 'local', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });

  it('should run DynamoDB Local on the port given until Ctrl-C, then exit 0 and free the port', async () => {
    const port = await freePort();
    const child = cli(['--port', String(port)]);
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (let waited = 0; !stdout.includes('is up') && waited < 60_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(stdout).toMatch(new RegExp(`^DynamoDB Local is up at http://127\\.0\\.0\\.1:${port} \\(pid \\d+\\); Ctrl-C stops it\\.\n$`));
    const client = localClient(`http://127.0.0.1:${port}`);
    await expect(client.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
    client.destroy();
    child.kill('SIGINT');
    expect(await closed).toBe(0);
    await expect(checkPortFree(port)).resolves.toBeUndefined();
  }, 90_000);

  it('should exit 3 with a message, starting no Java, when the port is taken', async () => {
    const child = cli(['--port', String(taken)]);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(3);
    expect(stderr).toBe(
      `error: DynamoDB Local did not start: Port ${taken} is taken: another process listens on it. Choose another one: PORT=8001 npm run dynamodb-local, or rxjs-dynamodb local --port 8001.\n`,
    );
  }, 60_000);
});
