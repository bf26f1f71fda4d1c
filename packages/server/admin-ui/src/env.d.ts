/** Style sheets are bundled by esbuild (build.ts). */
declare module '*.css';
