/** Peer `switchboard-pusher`: the Switchboard server under test with a Pusher app (`bench-key`) on the `bench` namespace. */
process.env.BENCH_PUSHER = '1';
await import('./switchboard.ts');
