/**
 * `@switchboard/react`: `<SwitchboardProvider url=… options=…>` owns one client;
 * `useSubscription`, `usePresence`, `usePublish`, `useConnectionState` and `useSwitchboard`
 * use it. Safe under strict mode (one socket, one subscription per channel) and on the
 * server (no socket is opened while rendering).
 */
export { SwitchboardProvider, useSwitchboard, type SwitchboardProviderProps } from './provider.ts';
export { useConnectionState, usePresence, usePublish, useSubscription, type SubscriptionView, type UseSubscriptionOptions } from './hooks.ts';
export { holders } from './channels.ts';
