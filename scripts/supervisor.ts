import { fork, type ChildProcess } from 'node:child_process';

/** What a supervised process reports over IPC once it serves. */
export interface Listening {
  type: 'listening';
  url: string;
  wsUrl?: string;
  /** The address the gateway is bound to (`127.0.0.1`, `0.0.0.0`…). */
  bound?: string;
  /** The gateway's admin UI is on (`admin.password` set). */
  admin?: boolean;
}

/** Options of a supervised child process. */
export interface SupervisedOptions {
  /** Shown in messages: "gateway", "chat". */
  name: string;
  /** The Node module to run (TypeScript is fine: Node 24 strips types). */
  module: string;
  /** Arguments; a function so a restart can add what the first run learned (its port). */
  args: () => string[];
  env: () => NodeJS.ProcessEnv;
  /** Called each time the process serves (first start and every restart). */
  onListening: (l: Listening, restarted: boolean) => void;
  /** The process exited before it ever served (a port in use, a bad flag): nothing to retry. */
  onFailedStart: (code: number) => void;
  /** Restart delays: `minDelayMs · 2^n` up to `maxDelayMs`; n resets after `stableMs` up. */
  minDelayMs?: number;
  maxDelayMs?: number;
  stableMs?: number;
  /** One-line notices (default: stderr with a `[switchboard]` prefix). */
  say?: (line: string) => void;
}

/**
 * One child process kept running: restarted with exponential backoff when it dies after it
 * served once (kill -9, a crash); a process that dies before it ever served is an operator
 * mistake, reported once through `onFailedStart` instead of looping.
 */
export class Supervised {
  private readonly o: SupervisedOptions;
  private child: ChildProcess | undefined;
  private served = false;
  private stopping = false;
  private failures = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(o: SupervisedOptions) {
    this.o = o;
  }

  /** The running process's id (for `kill -9` in a demo or a test). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopping) return;
    const child = fork(this.o.module, this.o.args(), { env: this.o.env(), stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    this.startedAt = Date.now();
    const restarted = this.served;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (m: Partial<Listening>) => {
      if (m?.type !== 'listening' || typeof m.url !== 'string') return;
      this.served = true;
      this.o.onListening(m as Listening, restarted);
    });
    child.once('exit', (code, signal) => this.exit(child, code, signal));
  }

  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and restarts it no more. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(force);
  }

  private exit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child || this.stopping) return;
    if (!this.served) return this.o.onFailedStart(code ?? 1);
    if (Date.now() - this.startedAt >= (this.o.stableMs ?? 30_000)) this.failures = 0;
    const delay = Math.min((this.o.minDelayMs ?? 250) * 2 ** this.failures, this.o.maxDelayMs ?? 10_000);
    this.failures++;
    const say = this.o.say ?? ((l: string) => console.error(`[switchboard] ${l}`));
    say(`${this.o.name} exited (${signal ?? `code ${code}`}); restarting it in ${delay < 1000 ? `${delay} ms` : `${delay / 1000} s`}`);
    this.timer = setTimeout(() => this.start(), delay);
  }
}
