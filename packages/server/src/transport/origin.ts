/**
 * The origin allow-list (cross-site WebSocket hijacking defence). Empty list: any origin.
 * Entries are exact origins (`https://app.example.com`) or a wildcard subdomain
 * (`https://*.example.com`). Requests without `Origin` (non-browser clients) are allowed:
 * browsers always send it.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.length === 0 || origin === undefined) return true;
  const o = origin.toLowerCase();
  for (const entry of allowed) {
    const e = entry.toLowerCase();
    if (e === '*' || e === o) return true;
    const star = e.indexOf('://*.');
    if (star !== -1) {
      const scheme = e.slice(0, star + 3);
      const suffix = e.slice(star + 4); // ".example.com"
      if (o.startsWith(scheme) && o.endsWith(suffix) && o.length > scheme.length + suffix.length && !o.slice(scheme.length, -suffix.length).includes('/')) return true;
    }
  }
  return false;
}
