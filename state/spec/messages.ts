import type { Document } from 'yaml';
import type { z } from 'zod';
import { closest } from './editDistance.js';
import type { SpecIssue } from './issues.js';
import { formatPath, keyNodeAt, type Locator, nodeAt, valueAt } from './locate.js';
import { knownKeys } from './schema.js';

// zod's and yaml's messages rewritten for people: what was expected, what was found, what is valid.

/** A zod issue as a {@link SpecIssue}: located at its key (unknown keys) or value, and reworded. */
export function locateZodIssue(
  doc: Document.Parsed,
  document: number,
  issue: z.core.$ZodIssue,
  input: unknown,
  at: Locator,
): SpecIssue {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const valid = knownKeys(path);
    const key = issue.keys[0]!;
    const suggestion = closest(key, valid);
    const more =
      issue.keys.length > 1
        ? ` (and ${issue.keys
            .slice(1)
            .map((k) => `"${k}"`)
            .join(', ')})`
        : '';
    return {
      document,
      path: formatPath([...path, key]),
      ...at(keyNodeAt(doc, path, key)?.range?.[0] ?? nodeAt(doc, path)?.range?.[0]),
      message:
        `unknown key "${key}"${more}` +
        (suggestion ? ` (did you mean "${suggestion}"?)` : '') +
        (valid.length > 0 ? `; valid keys here: ${valid.join(', ')}` : ''),
    };
  }
  const value = redact(path, valueAt(input, path));
  const node = nodeAt(doc, path) ?? (value === undefined ? nodeAt(doc, path.slice(0, -1)) : undefined);
  return { document, path: formatPath(path), ...at(node?.range?.[0]), message: zodMessage(issue, value) };
}

/** A YAML parser error in one line. */
export function yamlErrorMessage(message: string): string {
  return `invalid YAML: ${message.split('\n')[0]}`;
}

function zodMessage(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined) return `is required (expected ${article(issue.expected)})`;
      return `expected ${article(issue.expected)}, got ${describeValue(value)}`;
    }
    case 'too_small':
      if (issue.origin === 'string') return `must not be empty`;
      if (issue.origin === 'array') return `expected at least ${issue.minimum} items`;
      return `expected a number ${issue.inclusive === false ? '>' : '>='} ${issue.minimum}, got ${describeValue(value)}`;
    case 'too_big':
      if (issue.origin === 'string')
        return `expected at most ${issue.maximum} characters, got ${describeValue(value)}`;
      return `expected a number ${issue.inclusive === false ? '<' : '<='} ${issue.maximum}, got ${describeValue(value)}`;
    case 'invalid_value':
      if (value === undefined)
        return `is required (expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')})`;
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describeValue(value)}`;
    case 'invalid_union':
      return `expected a string, number or boolean, got ${describeValue(value)}`;
    case 'invalid_format':
      return `${issue.message}, got ${describeValue(value)}`;
    default:
      return issue.message;
  }
}

/** Keys whose values are secrets: never echoed in a message. */
const SECRET_KEY = /(api_?key|token|password|passwd|secret|credentials?)$/i;

/** What may be shown of a value: nothing of a secret field, no `user:password@` of a URL. */
function redact(path: readonly (string | number)[], value: unknown): unknown {
  const key = path.at(-1);
  if (typeof key === 'string' && SECRET_KEY.test(key) && value !== undefined) return REDACTED;
  return typeof value === 'string' ? redactUrlCredentials(value) : value;
}

const REDACTED = Symbol('redacted');

/** A text with the credentials of every URL in it (`scheme://user:password@`) replaced by `***`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@]*@/gi, '$1***@');
}

function describeValue(value: unknown): string {
  if (value === REDACTED) return 'a value (not shown: it is a secret)';
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function article(expected: string): string {
  const noun =
    expected === 'int' ? 'integer' : expected === 'record' || expected === 'object' ? 'mapping' : expected;
  if (noun === 'array') return 'a list';
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}
