// npm run bench [-- SCENARIO ...] [-- --quick] [-- --name=value ...]: runs benchmark scenarios, prints
// markdown and writes bench/results/<scenario>.json and .md. `--name=value` flags go to the scenario
// (e.g. roundtrip: --cps=1000 --seconds=3 --reps=3 --mixes=small,ten --targets=gateway,gateway-workers2,diy,pipe;
// the target names are bench/lib/targets.ts's TargetName).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

type Scenario = (o: { quick: boolean; flags: Record<string, string> }) => Promise<{ markdown: string; json: unknown }>;
const SCENARIOS: Record<string, () => Promise<Scenario>> = {
  roundtrip: async () => (await import('./scenarios.js')).roundtrip,
  downstream: async () => (await import('./scenarios.js')).downstream,
  idle: async () => (await import('./scenarios.js')).idle,
  storm: async () => (await import('./scenarios.js')).storm,
  clientmodes: async () => (await import('./scenarios.js')).clientmodes,
  validation: async () => (await import('./validation.js')).run,
  api: async () => (await import('./api.js')).run,
  flood: async () => (await import('./flood.js')).run,
  profile: async () => (await import('./profile.js')).run,
  scale: async () => (await import('./scale.js')).run,
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flags = Object.fromEntries(args.filter((a) => a.startsWith('--') && a.includes('=')).map((a) => [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const chosen = args.filter((a) => !a.startsWith('--'));
// --baseline=DIR: the checkout the gateway-baseline target runs (see bench/lib/targets.ts).
if (flags['baseline'] !== undefined) process.env['BENCH_BASELINE_DIR'] = flags['baseline'];
const names = chosen.length > 0 ? chosen : Object.keys(SCENARIOS);
const outDir = new URL('./results/', import.meta.url);
mkdirSync(outDir, { recursive: true });
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
for (const name of names) {
  const load = SCENARIOS[name];
  if (!load) {
    console.error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
  const run = await load();
  const result = await run({ quick, flags });
  const md = `## ${name}\n\nMachine: ${machine}. ${new Date().toISOString()}\n\n${result.markdown}\n`;
  console.log(md);
  writeFileSync(new URL(`${name}.md`, outDir), md);
  writeFileSync(new URL(`${name}.json`, outDir), `${JSON.stringify({ machine, at: new Date().toISOString(), ...(result.json as object) }, null, 2)}\n`);
}
