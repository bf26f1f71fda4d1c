export { createServer, type ServerOptions, type SwitchboardServer } from './server.ts';
export { parseConfig, ConfigError, type Config, type ConfigInput, type NamespaceOptions } from './config.ts';
export { mintToken, type MintOptions } from './auth/mint.ts';
export type { Broker, BrokerHandler, ControlMessage } from './broker/broker.ts';
export type { HistoryStore, HistoryOptions, AppendResult, ReadOptions, ReadResult } from './history/history-store.ts';
export type { SessionStore, Session } from './session/session-store.ts';
export { MemoryHistoryStore } from './history/memory-history-store.ts';
export { MemorySessionStore } from './session/memory-session-store.ts';
export { MemoryBroker } from './broker/memory-broker.ts';
