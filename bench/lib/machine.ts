import { cpus, freemem, loadavg, totalmem, release, hostname } from 'node:os';
import { readFileSync } from 'node:fs';

/** What a result was measured on: stored in every result file. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  freeMemoryGiB: number;
  node: string;
  kernel: string;
  host: string;
  /** 1/5/15-minute load averages when the run started (the machine may be shared). */
  loadAverage: number[];
  openFileLimit: { soft: number; hard: number };
}

/** RLIMIT_NOFILE of this process, read from /proc (Node has no getrlimit). */
export function openFileLimit(): { soft: number; hard: number } {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line!.replace('Max open files', '').trim().split(/\s+/);
    const n = (s: string | undefined) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
    return { soft: n(soft), hard: n(hard) };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/** How to get more file descriptors, for messages when a scenario needs more than the limit. */
export const RAISE_LIMIT_HELP =
  'Each connection is one file descriptor in the server process and one in a load worker. ' +
  '`npm run bench` raises the soft limit to the hard limit (`ulimit -n $(ulimit -Hn)`); to raise the hard limit: ' +
  'as root `ulimit -Hn 1048576` in the shell that runs the bench (needs CAP_SYS_RESOURCE), ' +
  '`LimitNOFILE=1048576` in a systemd unit, `docker run --ulimit nofile=1048576:1048576`, ' +
  'or `* hard nofile 1048576` in /etc/security/limits.conf (then log in again); fs.nr_open must be at least as high.';

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    host: hostname(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    openFileLimit: openFileLimit(),
  };
}

/** Resident set size of any process on this machine, in bytes (from /proc/<pid>/status). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU time (user + system) a process used so far, in milliseconds. */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat; after the ") " split they are at 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
