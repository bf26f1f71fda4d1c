#!/usr/bin/env node
// The `switchboard` command. An installed package runs its built JavaScript (dist/). In a
// checkout of the repository (src/ present) it runs the TypeScript sources on Node 24's type
// stripping, resolving the workspace packages to their sources too (the "switchboard-source"
// export condition; DEVELOPERS.md), so nothing needs building there.
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';

const source = new URL('../src/cli.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  registerHooks({
    resolve: (specifier, context, next) =>
      next(specifier, context.conditions.includes('switchboard-source') ? context : { ...context, conditions: [...context.conditions, 'switchboard-source'] }),
  });
  cli = await import(source.href);
} else {
  cli = await import('../dist/cli.js');
}
await cli.main();
