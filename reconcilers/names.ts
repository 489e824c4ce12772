import { engineName } from '../state/labels.js';

// Names take the lowest free number. A name held by any container (stopped, foreign, or ours) blocks
// that number, and so does a name already given to another create of the same plan.

/** The `count` lowest engine numbers whose names nobody holds. */
export function lowestFreeIndexes(
  pool: string,
  count: number,
  namesInUse: Pick<ReadonlySet<string>, 'has'>,
): number[] {
  const indexes: number[] = [];
  for (let index = 1; indexes.length < count; index++) {
    if (!namesInUse.has(engineName(pool, index))) indexes.push(index);
  }
  return indexes;
}
