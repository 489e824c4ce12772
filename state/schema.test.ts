import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { enginePoolJsonSchema } from './schema.js';

// The JSON Schema editors use: the shipped file is the generated one, it is draft-07 with every object
// closed, and it accepts the examples and rejects a wrong type and an unknown key. No JSON Schema
// validator is installed (and none is added for this), so `check` below implements the keywords the
// schema uses; a test pins that set, so a new keyword cannot slip by unchecked.

const ROOT = resolve(import.meta.dirname, '..');
const EXAMPLES = join(ROOT, 'deploy', 'examples');
type Schema = Record<string, unknown>;

const KEYWORDS = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'default',
  'type',
  'const',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'minLength',
  'maxLength',
  'pattern',
  'format',
]);

/** Every subschema, with its JSON path. */
function subschemas(schema: Schema, path = '#'): [string, Schema][] {
  const found: [string, Schema][] = [[path, schema]];
  for (const [key, value] of Object.entries((schema.properties ?? {}) as Record<string, Schema>))
    found.push(...subschemas(value, `${path}/properties/${key}`));
  for (const key of ['items', 'additionalProperties', 'propertyNames'] as const)
    if (typeof schema[key] === 'object') found.push(...subschemas(schema[key] as Schema, `${path}/${key}`));
  return found;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Validates `value` against the draft-07 keywords in KEYWORDS; answers one message per violation. */
function check(schema: Schema, value: unknown, path = ''): string[] {
  const errors: string[] = [];
  const at = path || '/';
  if (schema.type !== undefined) {
    const types = ([] as string[]).concat(schema.type as string | string[]);
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number')))
      return [`${at}: expected ${types.join(' or ')}, got ${actual}`];
  }
  if ('const' in schema && value !== schema.const)
    errors.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errors.push(`${at}: expected one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: above maximum`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum)
      errors.push(`${at}: not above exclusiveMinimum`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength)
      errors.push(`${at}: too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength)
      errors.push(`${at}: too long`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      errors.push(`${at}: does not match ${schema.pattern}`);
    if (schema.format === 'uri' && !URL.canParse(value)) errors.push(`${at}: not a URI`);
  }
  if (Array.isArray(value) && typeof schema.items === 'object')
    for (const [i, item] of value.entries())
      errors.push(...check(schema.items as Schema, item, `${path}/${i}`));
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[])
      if (!(key in object)) errors.push(`${at}: missing required "${key}"`);
    for (const [key, item] of Object.entries(object)) {
      if (properties[key]) errors.push(...check(properties[key], item, `${path}/${key}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unknown key "${key}"`);
      else if (typeof schema.additionalProperties === 'object')
        errors.push(...check(schema.additionalProperties as Schema, item, `${path}/${key}`));
      if (typeof schema.propertyNames === 'object')
        errors.push(...check(schema.propertyNames as Schema, key, `${path}/${key}`));
    }
  }
  return errors;
}

function documents(file: string): unknown[] {
  return parseAllDocuments(readFileSync(join(EXAMPLES, file), 'utf8')).map((doc) => doc.toJS());
}

const schema = enginePoolJsonSchema();
const examples = readdirSync(EXAMPLES).filter((file) => file.endsWith('.yaml'));
const acestream = documents('acestream.yaml')[0] as { spec: Record<string, Record<string, unknown>> };

describe('the JSON Schema of the file', () => {
  it('is shipped as deploy/enginepool.schema.json exactly as `enginepool schema` prints it', () => {
    const shipped = readFileSync(join(ROOT, 'deploy', 'enginepool.schema.json'), 'utf8');
    expect(shipped, 'regenerate it: ./bin/enginepool schema > deploy/enginepool.schema.json').toBe(
      `${JSON.stringify(schema, null, 2)}\n`,
    );
  });

  it('is draft-07, closes every object, and uses only keywords this test checks', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    for (const [path, sub] of subschemas(schema)) {
      for (const key of Object.keys(sub)) expect(KEYWORDS, `${path}: ${key}`).toContain(key);
      if (sub.type === 'object' && sub.properties) expect(sub.additionalProperties, path).toBe(false);
    }
  });

  it.each(examples)('accepts every document of deploy/examples/%s, which points editors at it', (file) => {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../enginepool.schema.json');
    const docs = documents(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) expect(check(schema, doc)).toEqual([]);
  });

  it('rejects a wrong type, naming where', () => {
    const wrong = structuredClone(acestream);
    wrong.spec.replicas!.max = 'twenty';
    expect(check(schema, wrong)).toEqual(['/spec/replicas/max: expected integer, got string']);
    const runtime = structuredClone(acestream) as unknown as { spec: Record<string, unknown> };
    runtime.spec.runtime = 'kubernetes';
    expect(check(schema, runtime)).toEqual(['/spec/runtime: expected one of ["docker","swarm"]']);
  });

  it('rejects an unknown key (a typo), naming where', () => {
    const typo = structuredClone(acestream) as unknown as { spec: Record<string, unknown> };
    typo.spec.replica = typo.spec.replicas;
    delete typo.spec.replicas;
    expect(check(schema, typo)).toEqual(['/spec: unknown key "replica"']);
  });
});
