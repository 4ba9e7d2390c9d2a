// Start/stop of every process the bench runs: the Node origin, peekwall, and the peers
// (HAProxy, nginx stream) when installed. Each start is bounded in time and returns a handle
// whose stop() kills exactly the process it started (its pid; nginx's workers follow their
// master). Ports: ephemeral, loopback only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export interface Running {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** Version or description, for the results file. */
  readonly version: string;
  /** True when the CPU to charge is the whole process tree (nginx master + workers, cluster). */
  readonly tree: boolean;
  stop(): Promise<void>;
  /** Node children only: the proxy's stats() over IPC (null when it does not answer in 1 s). */
  query?(): Promise<Record<string, number> | null>;
}

const START_TIMEOUT_MS = 15_000;

function stopChild(child: ChildProcess, graceful: () => void): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    try {
      graceful();
    } catch {
      child.kill('SIGTERM');
    }
  });
}

/** A node child speaking the {type:'ready', port} IPC protocol (upstream-child, proxy-child). */
export function startNodeChild(name: string, script: string, config: unknown, execArgv: string[] = [], tree = false, timeoutMs = START_TIMEOUT_MS): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, script, JSON.stringify(config)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name}: not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited with code ${code} before it was ready`));
    });
    child.on('message', (m: { type?: string; port?: number; message?: string }) => {
      if (m.type === 'error') {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`${name}: ${m.message}`));
      }
      if (m.type === 'ready' && typeof m.port === 'number') {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({
          name,
          pid: child.pid ?? 0,
          port: m.port,
          version: `node ${process.version}`,
          tree,
          stop: () => stopChild(child, () => child.send({ type: 'close' })),
          query: () =>
            new Promise((res) => {
              const t = setTimeout(() => { child.off('message', on); res(null); }, 1000);
              const on = (q: { type?: string; stats?: Record<string, number> }): void => {
                if (q.type !== 'stats') return;
                clearTimeout(t);
                child.off('message', on);
                res(q.stats ?? null);
              };
              child.on('message', on);
              if (child.connected) child.send({ type: 'stats' });
            }),
        });
      }
    });
  });
}

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitForPort(host: string, port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const c = connect({ host, port });
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${name}: port ${port} not listening within ${START_TIMEOUT_MS} ms`);
}

/** `haproxy -v` / `nginx -v` first line, or null when not installed. */
export function peerVersion(bin: 'haproxy' | 'nginx'): string | null {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) return null;
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
}

export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

async function spawnServer(name: string, cmd: string, args: string[], host: string, port: number, version: string, tree: boolean): Promise<Running> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  child.on('error', () => undefined);
  await waitForPort(host, port, child, name);
  return { name, pid: child.pid ?? 0, port, version, tree, stop: () => stopChild(child, () => child.kill('SIGTERM')) };
}

export interface PeerOptions {
  dir: string;
  host: string;
  upstream: { host: string; port: number };
  blockedSni: string;
}

/**
 * HAProxy in TCP mode peeking at the SNI the documented way: wait (inspect-delay) for a
 * ClientHello, reject the blocked name, forward the rest. One thread, like one Node process.
 */
export async function startHaproxy(o: PeerOptions): Promise<Running> {
  const version = peerVersion('haproxy') ?? 'haproxy';
  const port = await freePort(o.host);
  const cfg = join(o.dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '    nbthread 1',
      '    maxconn 8000',
      'defaults',
      '    mode tcp',
      '    timeout connect 5s',
      '    timeout client 30s',
      '    timeout server 30s',
      'frontend fe',
      `    bind ${o.host}:${port}`,
      '    tcp-request inspect-delay 5s',
      `    tcp-request content reject if { req.ssl_sni -i ${o.blockedSni} }`,
      '    tcp-request content accept if { req.ssl_hello_type 1 }',
      '    default_backend be',
      'backend be',
      `    server up ${o.upstream.host}:${o.upstream.port}`,
      '',
    ].join('\n'),
  );
  return spawnServer('haproxy', 'haproxy', ['-db', '-f', cfg], o.host, port, version, false);
}

/**
 * nginx stream with ssl_preread. nginx has no "reject by SNI" directive in stream, so the
 * blocked name maps to a closed loopback port: nginx's upstream connect is refused at once
 * and it closes the client connection (a FIN, not an RST — recorded in the endings).
 */
export async function startNginxStream(o: PeerOptions): Promise<Running> {
  const version = peerVersion('nginx') ?? 'nginx';
  const port = await freePort(o.host);
  const closed = await freePort(o.host);
  const conf = join(o.dir, 'nginx-stream.conf');
  writeFileSync(
    conf,
    [
      `load_module ${NGINX_STREAM_MODULE};`,
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(o.dir, 'nginx-stream.pid')};`,
      `error_log ${join(o.dir, 'nginx-stream.err')} crit;`,
      'events { worker_connections 8192; }',
      'stream {',
      '    map $ssl_preread_server_name $pw_upstream {',
      `        ${o.blockedSni} ${o.host}:${closed};`,
      `        default ${o.upstream.host}:${o.upstream.port};`,
      '    }',
      '    server {',
      `        listen ${o.host}:${port};`,
      '        ssl_preread on;',
      '        proxy_pass $pw_upstream;',
      '    }',
      '}',
      '',
    ].join('\n'),
  );
  return spawnServer('nginx-stream', 'nginx', ['-p', o.dir, '-e', join(o.dir, 'nginx-stream.err'), '-c', conf], o.host, port, version, true);
}

/** nginx as the HTTPS origin (optional: `--upstream nginx`). */
export async function startNginxOrigin(o: { dir: string; host: string; certFile: string; keyFile: string; bodyBytes: number }): Promise<Running> {
  const version = peerVersion('nginx') ?? 'nginx';
  const port = await freePort(o.host);
  const conf = join(o.dir, 'nginx-origin.conf');
  writeFileSync(
    conf,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(o.dir, 'nginx-origin.pid')};`,
      `error_log ${join(o.dir, 'nginx-origin.err')} crit;`,
      'events { worker_connections 8192; }',
      'http {',
      '    access_log off;',
      '    keepalive_requests 10000000;',
      '    keepalive_timeout 60s;',
      '    server {',
      `        listen ${o.host}:${port} ssl;`,
      `        ssl_certificate ${o.certFile};`,
      `        ssl_certificate_key ${o.keyFile};`,
      '        ssl_protocols TLSv1.2 TLSv1.3;',
      `        location / { default_type text/plain; return 200 "${'x'.repeat(o.bodyBytes)}"; }`,
      '    }',
      '}',
      '',
    ].join('\n'),
  );
  return spawnServer('nginx-origin', 'nginx', ['-p', o.dir, '-e', join(o.dir, 'nginx-origin.err'), '-c', conf], o.host, port, version, true);
}

export function nginxStreamAvailable(): boolean {
  return peerVersion('nginx') !== null && existsSync(NGINX_STREAM_MODULE);
}
