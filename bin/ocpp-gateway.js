#!/usr/bin/env -S node --max-semi-space-size=64
// --max-semi-space-size=64 (MiB): a young generation of up to 2 x 64 MiB instead of 2 x 16, so that the
// round trips in flight are copied by a scavenge a quarter as often (GC went from ~18 to ~2.5 µs per round
// trip; docs/performance.md). Every way the gateway is started passes it (npm start, this shebang, the
// container); test/deploy.test.ts checks that they agree. It cannot be set from inside the process.
// The installed command: always runs the build in dist/ (`npm run build`), never the TypeScript sources,
// so production needs neither tsx nor a compiler. `npm run dev` runs the sources instead.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('ocpp-gateway: dist/cli.js is missing: run `npm run build` first (`npm start` builds before it starts), or `npm run dev` to run the sources\n');
  process.exit(1);
}
await import(cli.href);
