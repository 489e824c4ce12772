import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../state/clock.js';
import { MAX_SPEC_BYTES, parseSpec } from '../../state/spec/index.js';
import { silentLogger } from '../observability/logger.js';
import { readSpecFile, SpecSource } from './specSource.js';

const valid = `apiVersion: enginepool/v1
kind: EnginePool
metadata: { name: hostile-spec }
spec:
  template: { image: engine:latest, args: ["--port={{httpPort}}"] }
  replicas: { max: 2 }
  ports: { hostRange: 23000-23009 }
`;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fileWith(text: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-spec-'));
  dirs.push(dir);
  const path = join(dir, 'pools.yaml');
  writeFileSync(path, text);
  return path;
}

function source(path: string) {
  let parses = 0;
  const parse: typeof parseSpec = (text, options) => {
    parses++;
    return parseSpec(text, options);
  };
  const spec = new SpecSource({ path, env: {}, clock: systemClock, logger: silentLogger(), parse });
  return { spec, parses: () => parses };
}

describe('SpecSource', () => {
  it('parses an unchanged file once, however often it is re-read', () => {
    const path = fileWith(valid);
    const { spec, parses } = source(path);
    expect(spec.reload('start')).toBe(true);
    for (let i = 0; i < 5; i++) expect(spec.reload('periodic check')).toBe(false);
    expect(parses()).toBe(1);
  });

  it.each([
    ['an alias without its anchor', valid.replace('"--port={{httpPort}}"', '*nope')],
    ['more than 100 aliases', `${valid}x: &a [${Array.from({ length: 150 }, () => '*a').join(',')}]\n`],
    ['binary garbage', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    ['a 2 MB file', `${valid}${'# padding\n'.repeat(200_000)}`],
    ['a tab-indented mess', '\t- [\n{{{: *x\n---\n!!binary @'],
  ])('keeps the last valid spec when %s is saved over the file', (_title, garbage) => {
    const path = fileWith(valid);
    const { spec } = source(path);
    spec.reload('start');
    writeFileSync(path, garbage);
    expect(spec.reload('file changed')).toBe(true);
    const state = spec.current();
    expect(state.spec?.pools.map((p) => p.name)).toEqual(['hostile-spec']);
    expect(state.error?.issues.length).toBeGreaterThan(0);
  });

  it('refuses a file above 1 MiB without parsing it', () => {
    const path = fileWith(`${valid}${'#'.repeat(MAX_SPEC_BYTES)}\n`);
    const { spec, parses } = source(path);
    spec.reload('start');
    expect(parses()).toBe(0);
    expect(spec.current().error?.message).toMatch(/pools\.yaml:1:1: the file is \d+ bytes; at most 1048576/);
    const { result } = readSpecFile(path, {});
    expect(result.ok).toBe(false);
  });
});
