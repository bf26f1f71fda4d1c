import { BROKER_SCHEMA } from '../broker/postgres-broker-schema.ts';
import { HISTORY_SCHEMA } from '../history/postgres-history-schema.ts';
import { CLUSTER_SCHEMA } from './cluster-schema.ts';
import type { Component } from './migrations.ts';
import { STORES_SCHEMA } from './stores-schema.ts';

/** Every component of the Postgres cluster backend, migrated together at start-up (`migrate`). */
export const COMPONENTS: readonly Component[] = [BROKER_SCHEMA, HISTORY_SCHEMA, STORES_SCHEMA, CLUSTER_SCHEMA];
