import { readFileSync } from 'node:fs';

/** What the runtime stage of a Dockerfile runs: the last `FROM` onwards. */
export interface ImageRuntime {
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[] | undefined;
  /** The RUN instructions, joined across line continuations. */
  runs: string[];
}

/**
 * Reads the runtime stage of a Dockerfile (exec-form `ENTRYPOINT`, `CMD` and `HEALTHCHECK
 * CMD`, `ENV K=V …`, `USER`, `RUN`), so a test runs what the image runs without a container
 * engine. Throws on a form it does not read (shell-form entry commands), rather than guess.
 */
export function readImageRuntime(path: string): ImageRuntime {
  const text = readFileSync(path, 'utf8').replace(/\\\r?\n\s*/g, ' ');
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stage = lines.slice(lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
  const out: ImageRuntime = { env: {}, user: undefined, entrypoint: [], cmd: [], healthcheck: undefined, runs: [] };
  const json = (s: string, what: string): string[] => {
    if (!s.trim().startsWith('[')) throw new Error(`${what}: only the exec (JSON) form is read, got ${s}`);
    return JSON.parse(s) as string[];
  };
  for (const line of stage) {
    const [, word, rest = ''] = /^(\w+)\s*(.*)$/.exec(line) ?? [];
    switch (word?.toUpperCase()) {
      case 'ENV':
        for (const m of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g)) out.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
        break;
      case 'USER': out.user = rest.trim(); break;
      case 'ENTRYPOINT': out.entrypoint = json(rest, 'ENTRYPOINT'); break;
      case 'CMD': out.cmd = json(rest, 'CMD'); break;
      case 'HEALTHCHECK': out.healthcheck = json(rest.slice(rest.indexOf('CMD') + 3), 'HEALTHCHECK'); break;
      case 'RUN': out.runs.push(rest); break;
      default: break;
    }
  }
  return out;
}
