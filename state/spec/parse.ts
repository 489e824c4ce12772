import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import { acrossPoolIssues, crossFieldIssues, poolParts } from './crossField.js';
import type { SpecIssue } from './issues.js';
import { aliasOffset, aliasOffsets, duplicateKeyOffsets, formatPath, locator, offsetAt } from './locate.js';
import { locateZodIssue, yamlErrorMessage } from './messages.js';
import { type DesiredSpec, type PoolSpec, toPoolSpec } from './poolSpec.js';
import { EnginePoolSchema } from './schema.js';
import { substituteEnv } from './substitute.js';

// The parse pipeline of the desired-state file (contract §1): YAML, `${VAR}` substitution, the schema
// and the cross-field rules, with errors that name the YAML path and line. Pure: no I/O, never throws.

/** The outcome of parsing a file: the spec, or every issue found. It never throws. */
export type SpecResult =
  | { readonly ok: true; readonly spec: DesiredSpec }
  | { readonly ok: false; readonly issues: readonly SpecIssue[] };

/** The options of {@link parseSpec}. */
export interface ParseOptions {
  /** Variables `${VAR}` is replaced from (the controller's environment). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The largest desired-state file read: 1 MiB holds hundreds of pools; a larger one is a mistake or an attack. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/** The most YAML aliases a document may use (each may expand a whole subtree). */
const MAX_ALIASES = 100;

/** The issue of a file above {@link MAX_SPEC_BYTES}. */
export function oversizeIssue(bytes: number): SpecIssue {
  return {
    document: 1,
    path: '',
    line: 1,
    column: 1,
    message: `the file is ${bytes} bytes; at most ${MAX_SPEC_BYTES} (1 MiB) are read`,
  };
}

/** Parses the text of a desired-state file. Never throws; every error is a {@link SpecIssue}. */
export function parseSpec(text: string, options: ParseOptions = {}): SpecResult {
  const env = options.env ?? {};
  // Why: parse time and memory grow with the text (2 MB took 6 s and 709 MB); refuse before parsing.
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_SPEC_BYTES) return { ok: false, issues: [oversizeIssue(bytes)] };
  const lineCounter = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      lineCounter,
      prettyErrors: false,
      // Why: yaml's own check compares each key with every earlier one (quadratic: 400 KB of env
      // took 6 s); duplicateKeyOffsets does it with a set per mapping.
      uniqueKeys: false,
    }) as Document.Parsed[];
  } catch (error) {
    return { ok: false, issues: [{ document: 1, path: '', message: `cannot parse YAML: ${String(error)}` }] };
  }
  const at = locator(lineCounter);

  const nonEmpty = docs.filter((doc) => doc.contents !== null || doc.errors.length > 0);
  if (nonEmpty.length === 0) {
    return {
      ok: false,
      issues: [
        {
          document: 1,
          path: '',
          line: 1,
          column: 1,
          message:
            'the file has no EnginePool document (an empty file is refused, so a half-saved edit can never remove every pool)',
        },
      ],
    };
  }

  const issues: SpecIssue[] = [];
  const pools: PoolSpec[] = [];
  docs.forEach((doc, i) => {
    const document = i + 1;
    if (doc.contents === null && doc.errors.length === 0) return;
    for (const error of doc.errors) {
      issues.push({ document, path: '', ...at(error.pos[0]), message: yamlErrorMessage(error.message) });
    }
    if (doc.errors.length > 0) return;
    const duplicates = duplicateKeyOffsets(doc);
    for (const { key, offset } of duplicates) {
      issues.push({
        document,
        path: '',
        ...at(offset),
        message: `invalid YAML: the key "${key}" appears twice in one mapping`,
      });
    }
    if (duplicates.length > 0) return;

    const substitutionIssues = substituteEnv(doc, env);
    for (const { path, message } of substitutionIssues) {
      issues.push({ document, path: formatPath(path), ...at(offsetAt(doc, path)), message });
    }
    if (substitutionIssues.length > 0) return;

    // Why: resolving an alias searches the document for its anchor, so toJS over many aliases is
    // quadratic (20,000 took a minute); count them in one pass and refuse before resolving any.
    const aliases = aliasOffsets(doc);
    if (aliases.length > MAX_ALIASES) {
      issues.push({
        document,
        path: '',
        ...at(aliases[MAX_ALIASES]),
        message: `invalid YAML: ${aliases.length} aliases; at most ${MAX_ALIASES} are resolved`,
      });
      return;
    }
    let input: unknown;
    try {
      input = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (error) {
      // Why: yaml resolves aliases only here (an alias without its anchor, too many aliases), outside
      // the parser's own error list; a typo in a watched file must be a problem, never a crash.
      issues.push({
        document,
        path: '',
        ...at(aliasOffset(doc)),
        message: yamlErrorMessage((error as Error).message),
      });
      return;
    }
    const result = EnginePoolSchema.safeParse(input);
    const documentIssues: SpecIssue[] = [];
    if (!result.success) {
      for (const issue of result.error.issues) {
        documentIssues.push(locateZodIssue(doc, document, issue, input, at));
      }
    }
    // Why: cross-field rules run on every section that passed the schema, so `validate` reports a
    // reversed hostRange next to an unknown key elsewhere in one run, not one after the other.
    for (const { path, message } of crossFieldIssues(poolParts(input))) {
      documentIssues.push({ document, path: formatPath(path), ...at(offsetAt(doc, path)), message });
    }
    documentIssues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    issues.push(...documentIssues);
    if (result.success && documentIssues.length === 0) pools.push(toPoolSpec(result.data, document));
  });

  issues.push(...acrossPoolIssues(docs, pools, at));
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, spec: { pools } };
}
