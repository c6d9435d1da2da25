#!/usr/bin/env node
// The installed command: always runs the build in dist/ (`npm run build`), never the TypeScript sources,
// so production needs neither tsx nor a compiler. `npm run dev` runs the sources instead.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('ocpp-gateway: dist/cli.js is missing: run `npm run build` first (`npm start` builds before it starts), or `npm run dev` to run the sources\n');
  process.exit(1);
}
await import(cli.href);
