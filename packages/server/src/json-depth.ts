/**
 * Deepest nesting of objects and arrays accepted in publication data. `JSON.parse` reads far
 * deeper documents than `JSON.stringify` can write back (it recurses and runs out of stack
 * at a few thousand levels), so without this limit a deeply nested payload would be stored
 * and then fail every delivery and replay.
 */
export const MAX_DATA_DEPTH = 64;

/** True when `value` nests objects and arrays at most `limit` levels deep. Stops at the first level past it. */
export function withinDepth(value: unknown, limit = MAX_DATA_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return true;
  let level: unknown[] = [value];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > limit) return false;
    const next: unknown[] = [];
    for (const v of level) {
      const children = Array.isArray(v) ? v : Object.values(v as object);
      for (const c of children) if (typeof c === 'object' && c !== null) next.push(c);
    }
    level = next;
  }
  return true;
}
