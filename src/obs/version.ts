// The gateway's version, from its package.json: for `--version` and the build-info metric. The
// sources (src/obs) and the build (dist/obs) are both two folders below the package root.
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
