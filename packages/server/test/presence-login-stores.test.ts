import { runPresenceStoreContract } from '../src/presence/presence.contract.ts';
import { MemoryPresenceStore } from '../src/presence/memory-presence-store.ts';
import { runLoginRegistryContract } from '../src/session/login-registry.contract.ts';
import { MemoryLoginRegistry } from '../src/session/memory-login-registry.ts';

runPresenceStoreContract({ name: 'memory', create: () => new MemoryPresenceStore() });
runLoginRegistryContract({ name: 'memory', create: () => new MemoryLoginRegistry() });
