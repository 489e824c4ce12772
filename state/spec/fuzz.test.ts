import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseSpec, type SpecResult } from './index.js';

// Issue 12: whatever is saved over the watched file, the parser answers a spec or a list of problems,
// each with a message; it never throws. Fixed seeds, so a failure replays the same input.

const EXAMPLES = resolve(import.meta.dirname, '..', '..', 'deploy', 'examples');
const examples = readdirSync(EXAMPLES)
  .filter((name) => name.endsWith('.yaml'))
  .map((name) => readFileSync(join(EXAMPLES, name), 'utf8'));
const env = { GLUETUN_API_KEY: 'k', GLUETUN_API_KEY_2: 'k2' };

function holds(result: SpecResult): void {
  if (result.ok) {
    expect(result.spec.pools.length).toBeGreaterThan(0);
    return;
  }
  expect(result.issues.length).toBeGreaterThan(0);
  for (const issue of result.issues) expect(issue.message).toMatch(/\S/);
}

/** A change a hasty edit or a hostile writer makes to a valid file. */
const YAML_NOISE = [
  '*a',
  '&a ',
  ': ',
  '- ',
  '{',
  '}',
  '[',
  ']',
  '"',
  "'",
  '\t',
  '\n',
  '#',
  '---\n',
  '!!binary ',
  '<<: *a',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${X} is the file's own syntax.
  '${X}',
  '{{',
  '%YAML 1.1\n',
  '? ',
];
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...YAML_NOISE), fc.string({ maxLength: 8 })),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('duplicateLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: string, m: Mutation): string {
  const at = m.at % (text.length + 1);
  switch (m.kind) {
    case 'insert':
      return text.slice(0, at) + m.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + m.length);
    case 'duplicateLine': {
      const lines = text.split('\n');
      const i = m.at % lines.length;
      return [...lines.slice(0, i + 1), lines[i], ...lines.slice(i + 1)].join('\n');
    }
    case 'truncate':
      return text.slice(0, at);
  }
}

/** Values of any YAML shape, for documents that parse as YAML but are anything but a pool. */
const yamlValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.constantFrom('apiVersion', 'kind', 'metadata', 'spec', 'template', 'replicas', 'max', 'vpn', 'x'),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value;

describe('parseSpec under fuzzing', () => {
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => holds(parseSpec(text, { env }))),
      { seed: 12, numRuns: 300 },
    );
  });

  it('never throws on mutations of the shipped examples', () => {
    fc.assert(
      fc.property(
        fc.nat(examples.length - 1),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        (which, mutations) => holds(parseSpec(mutations.reduce(mutate, examples[which]!), { env })),
      ),
      { seed: 12, numRuns: 250 },
    );
  });

  it('never throws on YAML of any shape', () => {
    fc.assert(
      fc.property(yamlValue, (value) => holds(parseSpec(stringify(value), { env }))),
      { seed: 12, numRuns: 300 },
    );
  });
});
