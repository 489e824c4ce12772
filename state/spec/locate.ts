import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node, visit } from 'yaml';

// From a key path to the YAML node, line and column it was written at.

/** A line and column (1-based) of a character offset; empty when the offset is unknown. */
export type Locator = (offset: number | undefined) => { line?: number; column?: number };

/** The {@link Locator} of a text a LineCounter has seen. */
export function locator(lineCounter: LineCounter): Locator {
  return (offset) => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
}

/** The key path of a node from the ancestors `visit` passes. */
export function yamlPath(ancestors: readonly unknown[], node: Node): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) path.push(parent.items.indexOf(child as never));
    else if (isMap(parent)) {
      const pair = child as { key?: unknown };
      if (isScalar(pair.key)) path.push(String(pair.key.value));
    }
  }
  return path;
}

/** The node at a key path, if the document has one there. */
export function nodeAt(doc: Document.Parsed, path: readonly (string | number)[]): Node | undefined {
  if (path.length === 0) return doc.contents ?? undefined;
  try {
    const node = doc.getIn(path, true);
    return node && typeof node === 'object' && 'range' in node ? (node as Node) : undefined;
  } catch {
    return undefined;
  }
}

/** The node of a key itself (for an unknown key, the line of the key is the useful one). */
export function keyNodeAt(
  doc: Document.Parsed,
  path: readonly (string | number)[],
  key: string,
): Node | undefined {
  const parent = nodeAt(doc, path);
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
  return pair && isScalar(pair.key) ? pair.key : undefined;
}

/** The offset of the node at a path, or of its parent when the key is missing. */
export function offsetAt(doc: Document.Parsed, path: readonly (string | number)[]): number | undefined {
  return (nodeAt(doc, path) ?? nodeAt(doc, path.slice(0, -1)))?.range?.[0];
}

/** A key path as users write it: `spec.template.args[1]`, `spec.template.env["A-B"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else {
      const key = String(part);
      text += /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (text ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return text;
}

/** The value at a key path of plain data. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/** Every scalar key written a second time in its mapping, with the offset of the repeat. */
export function duplicateKeyOffsets(doc: Document.Parsed): { key: string; offset: number | undefined }[] {
  const duplicates: { key: string; offset: number | undefined }[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key)) duplicates.push({ key, offset: pair.key.range?.[0] });
        seen.add(key);
      }
    },
  });
  return duplicates;
}

/** The offset of every alias of a document, in one pass (no alias is resolved). */
export function aliasOffsets(doc: Document.Parsed): (number | undefined)[] {
  const offsets: (number | undefined)[] = [];
  visit(doc, {
    Alias(_, node) {
      offsets.push(node.range?.[0]);
    },
  });
  return offsets;
}

/** Where to point for an alias error: the first alias without its anchor, else the first alias. */
export function aliasOffset(doc: Document.Parsed): number | undefined {
  let first: number | undefined;
  let unresolved: number | undefined;
  visit(doc, {
    Alias(_, node) {
      first ??= node.range?.[0];
      if (unresolved === undefined && node.resolve(doc) === undefined) unresolved = node.range?.[0];
    },
  });
  return unresolved ?? first;
}
