// The desired-state file (contract §1): its schema, parser and the PoolSpec the rest of the code reads.
// Importers use this module; the files next to it hold one concern each.

export { formatIssues, type SpecIssue } from './issues.js';
export { redactUrlCredentials } from './messages.js';
export { MAX_SPEC_BYTES, oversizeIssue, type ParseOptions, parseSpec, type SpecResult } from './parse.js';
export {
  type DesiredSpec,
  derivedPort,
  type PoolSpec,
  type PortRange,
  usedPlaceholders,
  usesSwarm,
  vpnContainers,
} from './poolSpec.js';
export { EnginePoolSchema, type GluetunSettings, PLACEHOLDERS, type Placeholder } from './schema.js';
