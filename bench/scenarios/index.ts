import type { ScenarioContext, ScenarioResult } from './types.ts';
import { fanout } from './fanout.ts';

/** Every scenario by name (`npm run bench -- <name>`). */
export const SCENARIOS: Record<string, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  fanout,
};
