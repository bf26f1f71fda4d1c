import { describe, expect, it } from 'vitest';
import { WORKER_SEMI_SPACE_MB, workerExecArgv } from '../../src/workers.ts';

describe('worker Node flags', () => {
  it("cap V8's young generation unless the operator chose a size", () => {
    expect(workerExecArgv(['--enable-source-maps'], undefined)).toEqual(['--enable-source-maps', `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`]);
    expect(workerExecArgv(['--max-semi-space-size=64'], undefined)).toEqual(['--max-semi-space-size=64']);
    expect(workerExecArgv([], '--max-old-space-size=4096 --max-semi-space-size=32')).toEqual([]);
    expect(workerExecArgv([], '')).toEqual([`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`]);
  });
});
