/** Internals for tests; not a stable API. */
export { Node } from './node.ts';
export { Hub } from './hub.ts';
export { encodeMessage } from './protocols/v1/encoder.ts';
export { Connection } from './connection/connection.ts';
export { ChannelResolver } from './channels.ts';
export { JwtVerifier } from './auth/jwt.ts';
export { configFromEnv, mergeConfig, devDefaults, readConfigFile } from './config.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
