import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compose } from '../support/compose.js';
import { cli } from '../support/harness.js';
import { promtool } from '../support/promtool.js';

// deploy/ checked by the tools users run: promtool on the scrape config, the alert rules and their
// unit tests, and on the dashboard's PromQL; `enginepool validate` on every example.

const ROOT = resolve(import.meta.dirname, '..', '..');
const PROMETHEUS = join(ROOT, 'deploy', 'prometheus');

describe('the Prometheus files', () => {
  it('the scrape config and the rules it loads pass `promtool check config`', async () => {
    const result = await promtool(['check', 'config', join(PROMETHEUS, 'prometheus.yml')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('the alert rules pass `promtool check rules` and cover each condition the issue names', async () => {
    const result = await promtool(['check', 'rules', join(PROMETHEUS, 'alerts.yml')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const alerts = readFileSync(join(PROMETHEUS, 'alerts.yml'), 'utf8');
    for (const name of [
      'EnginepoolConfigInvalid',
      'EnginepoolCircuitBreakerOpen',
      'EnginepoolVpnEmergency',
      'EnginepoolNoReconcile',
      'EnginepoolFreeEnginesBelowMinFree',
      'EnginepoolProvisioningFailures',
    ])
      expect(alerts).toContain(`alert: ${name}`);
  });

  it('the alerts fire when they should and not before (`promtool test rules`)', async () => {
    const result = await promtool(['test', 'rules', join(PROMETHEUS, 'alerts.test.yml')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it("the dashboard's queries are valid PromQL", async () => {
    const dashboard = JSON.parse(
      readFileSync(join(ROOT, 'deploy', 'grafana', 'enginepool.json'), 'utf8'),
    ) as {
      panels: { title: string; targets?: { expr: string; refId: string }[] }[];
    };
    // Why: promtool has no "check this expression" command; recording rules are parsed as PromQL.
    const rules = dashboard.panels.flatMap((panel, i) =>
      (panel.targets ?? []).map((target) => ({
        record: `dashboard:panel${i}:${target.refId.toLowerCase()}`,
        expr: target.expr.replaceAll('$__rate_interval', '5m').replaceAll('$pool', '.*'),
      })),
    );
    expect(rules.length).toBeGreaterThan(6);
    const file = join(mkdtempSync(join(tmpdir(), 'enginepool-dash-')), 'dashboard.rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const result = await promtool(['check', 'rules', file]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });
});

describe('the compose files', () => {
  const dir = join(ROOT, 'deploy', 'compose');
  // .env.example with every blank filled, as a user would: what `config` needs is named there.
  const envFile = join(mkdtempSync(join(tmpdir(), 'enginepool-compose-')), '.env');
  writeFileSync(
    envFile,
    readFileSync(join(dir, '.env.example'), 'utf8').replace(/^([A-Z0-9_]+)=$/gm, (_, name: string) =>
      name === 'DOCKER_GID' ? `${name}=999` : `${name}=filled-${name.toLowerCase()}`,
    ),
  );

  it.each(
    [
      ['standalone.yaml'],
      ['gluetun.yaml'],
      ['two-vpns.yaml'],
      ['gluetun.yaml', 'acexy.yaml'],
      ['standalone.yaml', 'acexy.yaml'],
      ['gluetun.yaml', 'acexy.yaml', 'monitoring.yaml'],
      ['two-vpns.yaml', 'monitoring.yaml'],
    ].map((files) => [files.join(' + '), files] as const),
  )('`compose config` accepts %s', async (_stack, files) => {
    const args = ['--env-file', envFile, ...files.flatMap((f) => ['-f', f]), 'config'];
    const result = await compose(args, dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('ENGINEPOOL_API_TOKEN: filled-enginepool_api_token');
  });

  it('refuses to start a stack without the token: compose names the variable', async () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'enginepool-compose-')), '.env');
    writeFileSync(empty, 'DOCKER_GID=999\n');
    const result = await compose(['--env-file', empty, '-f', 'standalone.yaml', 'config'], dir);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/ENGINEPOOL_API_TOKEN/);
  });
});

describe('the examples', () => {
  const examples = readdirSync(join(ROOT, 'deploy', 'examples')).filter((f) => f.endsWith('.yaml'));

  it.each(examples)('`enginepool validate` accepts deploy/examples/%s', async (file) => {
    const result = await cli(['validate', join(ROOT, 'deploy', 'examples', file)], {
      GLUETUN_API_KEY: 'a-key-from-the-environment',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/: valid \(/);
  });
});
