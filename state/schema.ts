import { z } from 'zod';
import { EnginePoolSchema } from './spec/index.js';

// The JSON Schema (draft-07) of one EnginePool document, from the input side of the zod schema, with
// strict objects so editors flag typos as users type.

/** The `format` values draft-07 defines; zod also emits its own (e.g. `starts_with`), which validators reject. */
const DRAFT_07_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'email',
  'idn-email',
  'hostname',
  'idn-hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uri-reference',
  'iri',
  'iri-reference',
  'uri-template',
  'json-pointer',
  'relative-json-pointer',
  'regex',
]);

/** The JSON Schema of the desired-state file, for `enginepool schema` and deploy/enginepool.schema.json. */
export function enginePoolJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(EnginePoolSchema, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      // Why: `startsWith('/')` also becomes a `pattern`, which says the same thing in standard terms.
      if (typeof jsonSchema.format === 'string' && !DRAFT_07_FORMATS.has(jsonSchema.format))
        delete jsonSchema.format;
    },
  });
  return {
    ...schema,
    $id: 'https://enginepool.dev/schema/enginepool-v1.json',
    title: 'EnginePool',
    description:
      'The desired state of an enginepool pool: a template engines are made from, how many to run, their host ports, an optional VPN and a circuit breaker. One YAML file may hold several documents (---).',
  };
}
