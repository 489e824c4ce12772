import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { type ControllerProcess, ENGINE_IMAGE, type TestScope } from './harness.js';

// A Docker Swarm the test makes and removes itself (test/support/swarm-lab.sh): private dockerd
// instances, each in its own network namespace, never the host's dockerd. The controller runs in the
// manager's namespace (engines answer at node addresses that exist only there); its API and the
// engines' ports are relayed to the same port numbers on the host's loopback for the test to use.

const run = promisify(execFile);
const LAB = resolve(import.meta.dirname, 'swarm-lab.sh');

/** Relays each port: a Unix socket per port in `dir`, served in the namespace by this script. */
const RELAY = `const net=require('net'),fs=require('fs');const [dir,...ports]=process.argv.slice(1);
for(const p of ports){const path=dir+'/'+p+'.sock';try{fs.unlinkSync(path)}catch{}
net.createServer((c)=>{const u=net.connect(+p,'127.0.0.1');c.pipe(u).pipe(c);
c.on('error',()=>u.destroy());u.on('error',()=>c.destroy())}).listen(path)}`;

/** A swarm of `nodes` private daemons; node 0 is the manager. */
export class SwarmLab {
  private relay?: ChildProcess;
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly name: string,
    readonly nodes: number,
    readonly octet: number,
  ) {}

  /** Makes the swarm (after removing any leftover of an interrupted run of the same name). */
  static async up(name: string, nodes: number, octet: number): Promise<SwarmLab> {
    const lab = new SwarmLab(name, nodes, octet);
    await run('bash', [LAB, 'down', name]);
    await run('bash', [LAB, 'up', name, String(nodes), String(octet), ENGINE_IMAGE]);
    return lab;
  }

  netns(node = 0): string {
    return `/var/run/netns/ep-${this.name}-${node}`;
  }

  dockerHost(node = 0): string {
    return `unix:///run/eplab/${this.name}-${node}.sock`;
  }

  /** A Docker client of one node's daemon. */
  docker(node = 0): Docker {
    return new Docker({ socketPath: `/run/eplab/${this.name}-${node}.sock` });
  }

  /** The address the node's published ports answer on (in the manager's namespace). */
  address(node: number): string {
    return this.nodes === 1 ? '127.0.0.1' : `10.231.${this.octet}.${node + 1}`;
  }

  hostname(node: number): string {
    return `ep-${this.name}-${node}`;
  }

  /** Stops one node's daemon: the node goes down. */
  async stop(node: number): Promise<void> {
    await run('bash', [LAB, 'stop', this.name, String(node)]);
  }

  /** Relays these ports of the manager's namespace to the host's loopback. */
  async forward(ports: readonly number[]): Promise<void> {
    const dir = `/run/eplab/${this.name}-relay`;
    await run('mkdir', ['-p', dir]);
    this.relay = spawn(
      'nsenter',
      [`--net=${this.netns()}`, process.execPath, '-e', RELAY, dir, ...ports.map(String)],
      {
        stdio: 'ignore',
      },
    );
    for (const port of ports) {
      const server = createServer((client) => {
        const upstream = createConnection(join(dir, `${port}.sock`));
        for (const socket of [client, upstream]) {
          this.sockets.add(socket);
          socket.on('close', () => this.sockets.delete(socket));
        }
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((ok, fail) => {
        server.once('error', fail);
        server.listen(port, '127.0.0.1', () => ok());
      });
      this.servers.push(server);
    }
  }

  /** A controller (not started) that runs in the manager's namespace on `port`, relayed to the host. */
  controller(
    scope: TestScope,
    yaml: string,
    port: number,
    env: Record<string, string> = {},
  ): ControllerProcess {
    const c = scope.controller(yaml, [], { DOCKER_HOST: this.dockerHost(), ...env });
    c.port = port;
    c.prefix = ['nsenter', `--net=${this.netns()}`];
    return c;
  }

  /** The engine services of a pool on the manager. */
  async services(pool: string): Promise<any[]> {
    const list = await this.docker().listServices({ filters: { label: [`io.enginepool.pool=${pool}`] } });
    return list.sort((a: any, b: any) => a.Spec.Name.localeCompare(b.Spec.Name));
  }

  /** Removes every service (between tests). */
  async removeServices(): Promise<void> {
    const docker = this.docker();
    await Promise.all((await docker.listServices()).map((s) => docker.getService(s.ID).remove()));
  }

  /** Stops the relays, the daemons, and removes the namespaces and the daemons' state. */
  async down(): Promise<void> {
    this.relay?.kill('SIGKILL');
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.splice(0).map((s) => new Promise((ok) => s.close(ok))));
    await run('bash', [LAB, 'down', this.name]);
    await run('rm', ['-rf', `/run/eplab/${this.name}-relay`]);
  }
}
