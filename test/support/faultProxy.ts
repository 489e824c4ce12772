import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerSocket } from './dockerd.js';

// A fault-injecting proxy in front of the real Docker socket. A test points the controller's DOCKER_HOST
// at it; every call goes to the real dockerd unless a rule matches, and then the rule injects its fault:
// an error status, latency, a silently cut event stream, or something done to Docker just before the
// call (a foreign container taking a name, a process taking a port). No mock: Docker answers the rest.

/** One fault. A rule matches a call by method and path (the API version prefix is ignored). */
export interface FaultRule {
  readonly method?: string;
  readonly path?: RegExp;
  /** Answer this status with Docker's error body instead of calling Docker. */
  readonly status?: number;
  readonly message?: string;
  /** Wait this long before the call goes on (or the error is answered). */
  readonly delayMs?: number;
  /** For `GET /events`: keep the connection open and deliver nothing (no error, no events). */
  readonly silence?: boolean;
  /** Done before each matching call goes on to Docker; `hit` counts the matching calls from 1. */
  readonly before?: (hit: number) => Promise<void> | void;
  /** Matches at most this many calls. */
  readonly times?: number;
}

/** An installed rule; `hits` counts the calls it matched. */
export interface ActiveRule {
  readonly rule: FaultRule;
  hits: number;
  remove(): void;
}

/** The proxy: `dockerHost` is what the controller's DOCKER_HOST gets. */
export class FaultProxy {
  readonly dockerHost: string;
  /** One line per injected fault, for the test's record. */
  readonly injected: string[] = [];
  private readonly rules: ActiveRule[] = [];
  private readonly events = new Set<{ res: ServerResponse; upstream?: IncomingMessage }>();
  private readonly dir: string;
  private readonly socket: string;
  private server?: Server;

  constructor(private readonly upstream = dockerSocket()) {
    this.dir = mkdtempSync(join(tmpdir(), 'enginepool-fault-proxy-'));
    this.socket = join(this.dir, 'docker.sock');
    this.dockerHost = `unix://${this.socket}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.socket, resolve));
    return this;
  }

  /** Installs a rule until it is removed (or has matched `times` calls). */
  add(rule: FaultRule): ActiveRule {
    const active: ActiveRule = {
      rule,
      hits: 0,
      remove: () => {
        const i = this.rules.indexOf(active);
        if (i >= 0) this.rules.splice(i, 1);
      },
    };
    this.rules.push(active);
    return active;
  }

  /** Cuts every event stream silently, now and until `remove()`: the connections stay open, mute. */
  silenceEvents(): ActiveRule {
    return this.add({ method: 'GET', path: /^\/events/, silence: true });
  }

  async close(): Promise<void> {
    for (const stream of this.events) {
      stream.upstream?.destroy();
      stream.res.destroy();
    }
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
      if (!this.server) resolve();
    });
    rmSync(this.dir, { recursive: true, force: true });
  }

  private match(method: string, path: string): ActiveRule[] {
    return this.rules.filter(
      ({ rule, hits }) =>
        (rule.method === undefined || rule.method === method) &&
        (rule.path === undefined || rule.path.test(path)) &&
        (rule.times === undefined || hits < rule.times),
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').replace(/^\/v[0-9.]+/, '');
    const matched = this.match(method, path);
    for (const active of matched) active.hits++;
    const note = (what: string) => this.injected.push(`${method} ${path.split('?')[0]}: ${what}`);
    for (const { rule, hits } of matched) {
      if (rule.before) {
        note('something done before it');
        await rule.before(hits);
      }
      if (rule.delayMs) {
        note(`${rule.delayMs} ms late`);
        await new Promise((r) => setTimeout(r, rule.delayMs));
      }
    }
    const failing = matched.find(({ rule }) => rule.status !== undefined);
    if (failing) {
      const { status, message } = failing.rule;
      note(`answered ${status}`);
      req.resume();
      res.writeHead(status!, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: message ?? `injected fault ${status}` }));
      return;
    }
    const isEvents = method === 'GET' && path.startsWith('/events');
    if (isEvents && matched.some(({ rule }) => rule.silence)) {
      note('stream opened mute');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      const stream = { res };
      this.events.add(stream);
      res.on('close', () => this.events.delete(stream));
      return;
    }
    const forward = request(
      { socketPath: this.upstream, method, path: req.url, headers: req.headers },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        if (!isEvents) {
          upstream.pipe(res);
          return;
        }
        const stream = { res, upstream };
        this.events.add(stream);
        res.on('close', () => {
          this.events.delete(stream);
          upstream.destroy();
        });
        // Why: an event stream cut silently keeps its connection and drops what Docker sends.
        upstream.on('data', (chunk: Buffer) => {
          if (this.match('GET', '/events').some(({ rule }) => rule.silence)) return;
          res.write(chunk);
        });
        upstream.on('end', () => res.end());
      },
    );
    forward.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `fault proxy: ${error.message}` }));
    });
    req.pipe(forward);
  }
}
