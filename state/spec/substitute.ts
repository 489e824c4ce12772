import { type Document, visit } from 'yaml';
import type { RawIssue } from './issues.js';
import { yamlPath } from './locate.js';

/** Replaces `${VAR}` and `${VAR:-default}` in every string value (not keys); `$${` is a literal `${`. */
export function substituteEnv(
  doc: Document.Parsed,
  env: Readonly<Record<string, string | undefined>>,
): RawIssue[] {
  const issues: RawIssue[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      node.value = node.value.replace(
        /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
        (match, name: string | undefined, fallback: string | undefined) => {
          if (match === '$${') return '${';
          const value = env[name!];
          if (value !== undefined && value !== '') return value;
          if (fallback !== undefined) return fallback;
          issues.push({
            path: yamlPath(path, node),
            message: `environment variable ${name} is not set; set it for the controller, or write \${${name}:-default}`,
          });
          return match;
        },
      );
    },
  });
  return issues;
}
