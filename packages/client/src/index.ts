/**
 * @switchboard/client: the Switchboard SDK for browsers and Node.
 * See docs/client.md for every option and event.
 */
export { Switchboard } from './client.ts';
export { Subscription, type SubscriptionState, type SubscriptionEvents, type SubscribeOptions, type ChannelPublication } from './subscription.ts';
export type { ClientEvents, ClientState, PublishResult, PresenceEntry, HistoryResult } from './events.ts';
export type { SwitchboardOptions, TokenProvider, OverflowPolicy, WebSocketLike, WebSocketConstructor, EventSourceLike } from './options.ts';
export { SwitchboardError, UnauthorizedError, isUnauthorizedError, type ClientErrorCode } from './errors.ts';
export type { TransportName, FetchLike, EventSourceConstructor, ServerEventSource } from './transport-types.ts';
export { MemoryStorage, type StorageLike } from './storage.ts';
export { Backoff, type BackoffOptions } from './backoff.ts';
export { CloseCode, isTerminalCloseCode, type Publication, type StreamPosition, type Permissions, type DeltaFormat } from '@switchboard/protocol';
