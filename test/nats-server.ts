/**
 * A private nats-server for a test: free loopback ports (client and, on request, WebSocket),
 * stop and restart on the same ports, and a TCP relay that can cut one client's connection
 * without touching the others. Everything started here is stopped by `stop()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** The server's max_payload (bytes); its default is 1 MiB. */
  maxPayload?: number;
  /** Also listen for WebSocket clients (no TLS), as browsers connect. */
  websocket?: boolean;
}

export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  /** ws://127.0.0.1:PORT when `websocket` was asked for. */
  readonly wsUrl: string | undefined;
  /** Kills the server (SIGKILL: nothing flushed) and starts it again on the same ports. */
  restart(downMs?: number): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A port nothing listens on now (the kernel picks it; a race with other processes is unlikely). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True once a TCP connection to the port succeeds. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<TestNatsServer> {
  const port = await freePort();
  const wsPort = options.websocket ? await freePort() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'nitro-d-nats-'));
  const config = join(dir, 'nats.conf');
  const lines = [`listen: 127.0.0.1:${port}`];
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (wsPort !== undefined) lines.push(`websocket { listen: "127.0.0.1:${wsPort}", no_tls: true }`);
  writeFileSync(config, lines.join('\n') + '\n');
  let child: ChildProcess | undefined;
  let log = '';

  const start = async () => {
    if (child) return;
    log = '';
    const c = spawn('nats-server', ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d) => (log = (log + d).slice(-4000)));
    c.stderr?.on('data', (d) => (log = (log + d).slice(-4000)));
    const spawnError = new Promise<never>((_, reject) =>
      c.once('error', (e) => reject(new Error(`cannot start nats-server: ${e.message}`))),
    );
    const deadline = Date.now() + 10_000;
    const ready = (async () => {
      while (Date.now() < deadline) {
        if (c.exitCode !== null)
          throw new Error(`nats-server exited with ${c.exitCode}: ${log.trim()}`);
        if ((await canConnect(port)) && (wsPort === undefined || (await canConnect(wsPort))))
          return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`nats-server did not listen on ${port} within 10 s: ${log.trim()}`);
    })();
    await Promise.race([ready, spawnError]);
  };
  const kill = async () => {
    const c = child;
    if (!c) return;
    child = undefined;
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    }
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    wsUrl: wsPort === undefined ? undefined : `ws://127.0.0.1:${wsPort}`,
    start,
    kill,
    async restart(downMs = 300) {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback TCP relay in front of a server: `cut()` drops the connections through it. */
export interface TcpRelay {
  readonly url: string;
  /** Closes every relayed connection and refuses new ones for `downMs`. */
  cut(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    async cut(downMs) {
      refusing = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise((r) => setTimeout(r, downMs));
      refusing = false;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
