import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Metrics } from '../../controllers/observability/metrics.js';

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

  it('publishes every port of every compose file on the loopback only', () => {
    for (const file of ['standalone', 'gluetun', 'two-vpns', 'acexy', 'monitoring']) {
      const compose = parse(read(`deploy/compose/${file}.yaml`)) as {
        services: Record<string, { ports?: string[] }>;
      };
      for (const service of Object.values(compose.services)) {
        for (const port of service.ports ?? []) expect(port, file).toMatch(/^127\.0\.0\.1:/);
      }
    }
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
  interface Service {
    image?: string;
    build?: unknown;
    command?: string[];
    volumes?: string[];
    environment?: Record<string, string>;
    group_add?: string[];
    container_name?: string;
    ports?: string[];
    depends_on?: Record<string, { condition: string }> | string[];
  }
  const load = (file: string) =>
    parse(read(`deploy/compose/${file}`), { merge: true }) as { services: Record<string, Service> };
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
  // Each stack and the example its header tells users to copy to pools/pools.yaml.
  const stacks: [string, string][] = [
    ['standalone.yaml', 'acestream.yaml'],
    ['gluetun.yaml', 'gluetun-forwarded.yaml'],
    ['two-vpns.yaml', 'two-vpns.yaml'],
  ];

  it.each(stacks)(
    '%s runs the image with the socket, a user config directory, a state volume and a token; %s fits it',
    (file, example) => {
      expect(read(`deploy/compose/${file}`)).toContain(`cp ../examples/${example} pools/pools.yaml`);
      const compose = load(file);
      const controller = compose.services.enginepool!;
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own variable syntax.
      expect(controller.image).toBe('${ENGINEPOOL_IMAGE:-enginepool:local}');
      expect(controller.build).toBeUndefined();
      expect(controller.command).toBeUndefined(); // the image's: --config /etc/enginepool/pools.yaml
      expect(controller.volumes).toEqual(
        expect.arrayContaining([
          '/var/run/docker.sock:/var/run/docker.sock',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own variable syntax.
          '${ENGINEPOOL_CONFIG_DIR:-./pools}:/etc/enginepool:ro',
          'enginepool-state:/var/lib/enginepool',
        ]),
      );
      expect(controller.environment?.ENGINEPOOL_API_TOKEN).toMatch(/^\$\{ENGINEPOOL_API_TOKEN:\?/);
      expect(controller.group_add).toEqual([expect.stringMatching(/^\$\{DOCKER_GID:\?/)]);
      // Every VPN a pool names is a container of this file that publishes exactly the pool's range,
      // and the controller waits for it to be healthy.
      for (const pool of examples(example)) {
        const vpn = pool.spec.vpn?.gluetun;
        if (!vpn) continue;
        const [name, service] = Object.entries(compose.services).find(
          ([, s]) => s.container_name === vpn.container,
        ) ?? [undefined, undefined];
        expect(service, `${pool.metadata.name}: container ${vpn.container}`).toBeDefined();
        const range = pool.spec.ports.hostRange;
        expect(service!.ports).toEqual([`127.0.0.1:${range}:${range}`]);
        expect(vpn.controlUrl).toBe(`http://${vpn.container}:8000`);
        expect(controller.depends_on).toMatchObject({ [name!]: { condition: 'service_healthy' } });
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own variable syntax.
        expect(controller.environment?.GLUETUN_API_KEY).toBe('${GLUETUN_API_KEY}');
      }
    },
  );

  it('wires acexy to enginepool with the env names acexy reads, once enginepool is healthy', () => {
    const acexy = load('acexy.yaml').services.acexy!;
    expect(acexy.environment).toMatchObject({
      ACEXY_ORCH_URL: 'http://enginepool:8000',
      ACEXY_ORCH_APIKEY: expect.stringMatching(/^\$\{ENGINEPOOL_API_TOKEN:\?/),
    });
    expect(acexy.depends_on).toEqual({ enginepool: { condition: 'service_healthy' } });
  });

  it('provisions Grafana with the shipped dashboard and Prometheus with the shipped rules', () => {
    const services = load('monitoring.yaml').services;
    expect(services.prometheus!.volumes).toContain('../prometheus:/etc/prometheus:ro');
    expect(services.grafana!.volumes).toEqual(
      expect.arrayContaining([
        '../grafana/provisioning:/etc/grafana/provisioning:ro',
        '../grafana/enginepool.json:/var/lib/grafana/dashboards/enginepool.json:ro',
      ]),
    );
    const datasource = parse(read('deploy/grafana/provisioning/datasources/prometheus.yaml'));
    expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });

  it('keeps secrets out of git: .env is ignored, .env.example names every variable a file requires', () => {
    expect(read('.gitignore').split('\n')).toContain('.env');
    const example = read('deploy/compose/.env.example');
    for (const file of [
      'standalone.yaml',
      'gluetun.yaml',
      'two-vpns.yaml',
      'acexy.yaml',
      'monitoring.yaml',
    ]) {
      for (const [, name] of read(`deploy/compose/${file}`).matchAll(/\$\{([A-Z0-9_]+):\?/g))
        expect(example, `${file}: ${name}`).toMatch(new RegExp(`^${name}=`, 'm'));
    }
  });
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
