/** Peer `switchboard-deflate`: the Switchboard server under test with permessage-deflate on (threshold 256 B). */
process.env.BENCH_DEFLATE = '1';
await import('./switchboard.ts');
