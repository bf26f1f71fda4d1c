// @ts-check
/**
 * Only for running inside the Switchboard repository: the workspace packages resolve to their
 * TypeScript sources (DEVELOPERS.md, "Packages: sources in the repository"), so nothing has to
 * be built first. In your own app, with `@switchboard/react` installed from npm, this file
 * needs none of it.
 */
import { fileURLToPath } from 'node:url';

/** @param {string} pkg */
const source = (pkg) => `../../packages/${pkg}/src/index.ts`; // relative to this folder

/** @type {import('next').NextConfig} */
const config = {
  // Next 16 writes an AGENTS.md beside the app on every `next dev` unless told not to.
  agentRules: false,
  experimental: { agentUpgrade: false },
  turbopack: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    resolveAlias: {
      '@switchboard/react': source('react'),
      '@switchboard/client': source('client'),
      '@switchboard/protocol': source('protocol'),
    },
  },
};

export default config;
