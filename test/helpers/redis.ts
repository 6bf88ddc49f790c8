/**
 * A Redis for the tests: Debian's `redis-server` (installed by `.ci/run` when missing) on a free loopback port, in
 * memory (no RDB or AOF files), stopped by its pid.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './dynamoLocal.js';

export interface RedisServer {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

/** Answers PONG to PING within `timeoutMs`, or rejects. */
function ping(port: number, timeoutMs = 500): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(new Error('no answer')), timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.end();
      if (chunk.toString().startsWith('+PONG')) resolve();
      else reject(new Error(`unexpected answer ${chunk.toString()}`));
    });
  });
}

export async function startRedis(timeoutMs = 20_000): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'pipe',
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', (error) => (output += `\n${String(error)} (is redis-server installed? apt-get install -y redis-server)`));
  const stop = async () => {
    if (exited || child.pid === undefined) return;
    process.kill(child.pid, 'SIGTERM');
    await exit;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited || child.pid === undefined) throw new Error(`redis-server did not start:\n${output}`);
    try {
      await ping(port);
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server did not answer within ${timeoutMs} ms: ${String(error)}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid!, stop };
}
