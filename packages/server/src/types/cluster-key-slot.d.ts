/** `cluster-key-slot` (the CRC16 slot of a Redis Cluster key, as ioredis computes it) ships no types. */
declare module 'cluster-key-slot' {
  /** The slot (0–16383) of `key`, honouring its `{hash tag}`. */
  const calculateSlot: ((key: string) => number) & {
    /** The slot shared by every key, or -1 when they differ. */
    generateMulti(keys: string[]): number;
  };
  export default calculateSlot;
}
