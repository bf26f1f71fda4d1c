/** A JSON document of about 5 KB (non-ASCII text included); version `n` changes two fields. */
export function documentAt(n: number): Record<string, unknown> {
  const rows = Array.from({ length: 40 }, (_, i) => ({ id: i, name: `row ${i} — ünïcode`, qty: i * 3, note: 'the quick brown fox jumps over the lazy dog' }));
  return { title: 'inventory', version: n, updatedBy: `user-${n % 7}`, rows };
}
