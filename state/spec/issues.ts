// Problems found in the desired-state file, and how `validate` prints them.

/** One problem in the file, located at a YAML path and line. */
export interface SpecIssue {
  readonly document: number;
  /** Dotted path such as `spec.replicas.max` or `spec.template.args[1]`; empty for the document itself. */
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** A problem at a key path, before it is given a line. */
export interface RawIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** Formats issues the way `validate` prints them: `file:line:column: path: message`, one per line. */
export function formatIssues(file: string, issues: readonly SpecIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
      const path = issue.path ? `${issue.path}: ` : '';
      return `${where}: ${path}${issue.message}`;
    })
    .join('\n');
}
