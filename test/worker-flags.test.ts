// The Node flags of a worker process (src/cluster/worker-flags.ts). [docs/operations.md "Node flags"]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WORKER_SEMI_SPACE_MIB, workerExecArgv } from '../src/cluster/worker-flags.js';

test('workers get V8\'s default semi-space in place of the primary\'s, whatever its spelling; other flags pass through', () => {
  const want = `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`;
  assert.equal(WORKER_SEMI_SPACE_MIB, 16);
  assert.deepEqual(workerExecArgv(['--max-semi-space-size=64']), [want]);
  assert.deepEqual(workerExecArgv(['--max_semi_space_size=32', '--enable-source-maps']), ['--enable-source-maps', want]);
  assert.deepEqual(workerExecArgv(['--max-semi-space-size', '64', '--import', 'tsx']), ['--import', 'tsx', want]);
  assert.deepEqual(workerExecArgv(['--cpu-prof', '--max-semi-space-size=64', '--max-old-space-size=4096']), ['--cpu-prof', '--max-old-space-size=4096', want]);
  assert.deepEqual(workerExecArgv([]), [want]);
});
