// `ocpp-gateway check-config` and a start with a bad configuration print the same list: the schema's
// errors and the rules between keys (loadConfig), then what the start would refuse (startupProblems),
// each naming the key and where its value came from. [SPEC §2]
import type { ConfigResult } from './load.js';
import { keyOf, mentions } from './origins.js';
import { startupProblems } from './startup-checks.js';

export async function configProblems(result: ConfigResult): Promise<string[]> {
  const loaded = result.ok ? { config: result.config, origins: result.origins } : result.fallback;
  const errors = result.ok ? [] : result.errors;
  if (loaded === undefined) return errors;
  // A key already reported stands at its default in the fallback: problems naming it would mislead.
  const failed = errors.map(keyOf).filter((k) => k !== undefined);
  const more = (await startupProblems(loaded.config)).filter((p) => !failed.some((k) => mentions(p, k)));
  return [...errors, ...more.map((p) => loaded.origins.annotate(p))];
}
