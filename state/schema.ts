import { z } from 'zod';
import { EnginePoolSchema } from './spec.js';

// The JSON Schema (draft-07) of one EnginePool document, from the input side of the zod schema, with
// strict objects so editors flag typos as users type.

/** The JSON Schema of the desired-state file, for `enginepool schema` and deploy/enginepool.schema.json. */
export function enginePoolJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(EnginePoolSchema, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'any',
  });
  return {
    ...schema,
    $id: 'https://enginepool.dev/schema/enginepool-v1.json',
    title: 'EnginePool',
    description:
      'The desired state of an enginepool pool: a template engines are made from, how many to run, their host ports, an optional VPN and a circuit breaker. One YAML file may hold several documents (---).',
  };
}
