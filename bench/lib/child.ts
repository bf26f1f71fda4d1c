import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A message from a child that is not a reply: progress and events. */
export interface ChildEvent {
  ev: string;
  [k: string]: unknown;
}

const live = new Set<ChildProcess>();
let hooked = false;
function killAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { killAll(); process.exit(130); });
}

/**
 * A child process of the harness (a server under test or a load worker) spoken to over IPC:
 * `call` sends a command and waits (bounded) for its reply. Children are killed when the
 * harness exits, whatever the reason, so nothing outlives a run.
 */
export class Child {
  readonly proc: ChildProcess;
  readonly name: string;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners: Array<(e: ChildEvent) => void> = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(name: string, module: string, o: { args?: string[]; execArgv?: string[]; env?: Record<string, string> } = {}) {
    killAllOnExit();
    this.name = name;
    const file = module.startsWith('file:') ? fileURLToPath(module) : module;
    this.proc = fork(file, o.args ?? [], {
      execArgv: o.execArgv ?? [],
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    live.add(this.proc);
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8000);
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${d}`);
    });
    this.proc.on('message', (m: any) => {
      if (m && typeof m.re === 'number') {
        const p = this.pending.get(m.re);
        if (!p) return;
        this.pending.delete(m.re);
        clearTimeout(p.timer);
        if (m.error) p.reject(new Error(`${name}: ${m.error}`));
        else p.resolve(m.result);
      } else if (m && typeof m.ev === 'string') for (const l of this.listeners) l(m);
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => {
      live.delete(this.proc);
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`${name} exited (${code}) ${this.stderr.slice(-1500)}`));
      }
      this.pending.clear();
      resolve(code);
    }));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Sends a command; rejects after `timeoutMs` or when the child dies. */
  call<T = any>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.proc.send({ id, cmd, ...args });
    });
  }

  on(listener: (e: ChildEvent) => void): () => void {
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener), 1);
  }

  /** Waits for the first event matching `pred` (bounded). */
  waitEvent(pred: (e: ChildEvent) => boolean, timeoutMs: number, what: string): Promise<ChildEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms ${this.stderr.slice(-1500)}`)); }, timeoutMs);
      const off = this.on((e) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
      void this.exited.then((code) => { clearTimeout(timer); off(); reject(new Error(`${this.name} exited (${code}) before ${what}: ${this.stderr.slice(-1500)}`)); });
    });
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * The child side: answers commands from the harness with `handlers`. A handler's return
 * value is the reply; a throw is an error reply. The child exits when the harness goes away.
 */
export function serveCommands(handlers: Record<string, (msg: any) => unknown>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m: any) => {
    if (!m || typeof m.id !== 'number') return;
    const h = handlers[m.cmd];
    try {
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      const result = await h(m);
      process.send!({ re: m.id, result });
    } catch (err) {
      process.send!({ re: m.id, error: (err as Error).stack ?? String(err) });
    }
  });
}

/** Sends an event to the harness (no reply expected). */
export function emit(ev: string, data: Record<string, unknown> = {}): void {
  if (process.connected) process.send!({ ev, ...data });
}
