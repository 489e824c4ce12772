import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Metrics } from '../../controllers/metrics.js';

// deploy/: the Grafana dashboard only queries metrics the controller exports; the compose files, the
// example pools they mount and the Dockerfile agree with each other. (promtool checks the Prometheus
// files and the dashboard's PromQL in test/integration/deploy.test.ts.)

const ROOT = resolve(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  datasource?: { uid?: string };
}

/** Every series name the controller exports (histograms as their _bucket, _sum and _count series). */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await new Metrics().registry.getMetricsAsJSON()) {
    // prom-client types `type` as a numeric enum, but serialises it as the Prometheus type name.
    if ((metric.type as unknown as string) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    else names.add(metric.name);
  }
  return names;
}

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(read('deploy/grafana/enginepool.json')) as {
    panels: Panel[];
    templating: { list: { name: string; query?: unknown }[] };
  };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');

  it('has at least six panels, each with a query on the data source variable', () => {
    expect(panels.length).toBeGreaterThanOrEqual(6);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax.
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'pool']);
  });

  it('queries only metrics the controller exports', async () => {
    const exported = await exportedNames();
    const used = new Set<string>();
    for (const panel of panels) {
      for (const { expr } of panel.targets!) {
        const names = expr.match(/\b(enginepool|process|nodejs)_[a-z_]+\b/g) ?? [];
        expect(names.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of names) {
          expect(exported, `${panel.title}: ${name}`).toContain(name);
          used.add(name);
        }
      }
    }
    for (const topic of [
      'enginepool_engines',
      'enginepool_engines_free',
      'enginepool_engines_min_free',
      'enginepool_streams',
      'enginepool_reconcile_total',
      'enginepool_reconcile_time_seconds_bucket',
      'enginepool_circuit_breaker_state',
      'enginepool_vpn_phase',
      'enginepool_docker_request_duration_seconds_bucket',
      'enginepool_config_reloads_total',
    ])
      expect(used, topic).toContain(topic);
  });
});

describe('the compose files', () => {
  const examples = (file: string) =>
    parseAllDocuments(read(`deploy/examples/${file}`)).map(
      (doc) =>
        doc.toJS() as {
          metadata: { name: string };
          spec: {
            ports: { hostRange: string };
            vpn?: { gluetun: { container: string; controlUrl?: string } };
          };
        },
    );
  const composes = ['standalone.yaml', 'gluetun.yaml', 'two-vpns.yaml'];

  it.each(composes)(
    '%s runs the controller with the socket, the pools directory, a state volume and a token',
    (file) => {
      const compose = parse(read(`deploy/compose/${file}`), { merge: true }) as {
        services: Record<
          string,
          {
            command?: string[];
            volumes?: string[];
            environment?: Record<string, string>;
            group_add?: string[];
          }
        >;
      };
      const controller = compose.services.enginepool!;
      expect(controller.volumes).toEqual(
        expect.arrayContaining([
          '/var/run/docker.sock:/var/run/docker.sock',
          '../examples:/etc/enginepool:ro',
        ]),
      );
      expect(controller.volumes!.some((v) => v.endsWith(':/var/lib/enginepool'))).toBe(true);
      expect(controller.command).toEqual(expect.arrayContaining(['--state-dir', '/var/lib/enginepool']));
      expect(controller.environment?.ENGINEPOOL_API_TOKEN).toMatch(/^\$\{ENGINEPOOL_API_TOKEN/);
      expect(controller.group_add).toHaveLength(1);
      const config = controller.command![controller.command!.indexOf('--config') + 1]!;
      expect(config).toMatch(/^\/etc\/enginepool\/[a-z-]+\.yaml$/);
      const pools = examples(config.split('/').at(-1)!);
      // Every VPN a pool names is a container of this file that publishes exactly the pool's range.
      for (const pool of pools) {
        const vpn = pool.spec.vpn?.gluetun;
        if (!vpn) continue;
        const service = Object.values(compose.services).find(
          (s) => (s as { container_name?: string }).container_name === vpn.container,
        ) as { ports?: string[] } | undefined;
        expect(service, `${pool.metadata.name}: container ${vpn.container}`).toBeDefined();
        const range = pool.spec.ports.hostRange;
        expect(service!.ports).toEqual([`${range}:${range}`]);
        expect(vpn.controlUrl).toBe(`http://${vpn.container}:8000`);
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own variable syntax.
        expect(controller.environment?.GLUETUN_API_KEY).toBe('${GLUETUN_API_KEY}');
      }
    },
  );
});

describe('the Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('builds on Node 24 from a staged context (no npm inside the build) and runs as a numeric non-root user', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-/m);
    expect(dockerfile).not.toMatch(/RUN npm /);
    expect(dockerfile).toMatch(/^COPY node_modules /m);
    expect(dockerfile).toMatch(/^USER [1-9]\d*:\d+$/m);
  });

  it('keeps its state in /var/lib/enginepool, checks /readyz with node, and carries OCI labels', () => {
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/enginepool"\]$/m);
    expect(dockerfile).toMatch(/"--state-dir", "\/var\/lib\/enginepool"/);
    expect(dockerfile).toMatch(
      /^HEALTHCHECK .*\n.*CMD \["node", "-e", .*http:\/\/127\.0\.0\.1:8000\/readyz/m,
    );
    for (const label of ['title', 'version', 'revision', 'created', 'licenses'])
      expect(dockerfile).toContain(`org.opencontainers.image.${label}=`);
  });
});
