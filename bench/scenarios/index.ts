import type { ScenarioContext, ScenarioResult } from './types.ts';
import { fanout } from './fanout.ts';
import { rooms } from './rooms.ts';
import { idle } from './idle.ts';
import { storm } from './storm.ts';
import { hold } from './hold.ts';
import { memory } from './memory.ts';
import { delta } from './delta.ts';
import { clusterPublish } from './cluster-publish.ts';
import { historyFlood } from './history-flood.ts';
import { outbox } from './outbox.ts';
import { chaos } from './chaos.ts';
import { webhooks } from './webhooks.ts';

/** Every scenario by name (`npm run bench -- <name>`). */
export const SCENARIOS: Record<string, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  fanout, rooms, idle, storm, hold, memory, delta, 'cluster-publish': clusterPublish, 'history-flood': historyFlood, outbox, webhooks, chaos,
};
