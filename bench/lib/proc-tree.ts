// A process and its descendants, read from /proc: the gateway with ocpp.workers > 1 is a primary and
// its worker processes, and what it costs (CPU, RSS) is the sum over all of them.
import { readFileSync, readdirSync } from 'node:fs';

/** The pids of a process and all its descendants, through /proc/PID/task/TID/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return; // gone
    }
    for (const t of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(' ').filter((s) => s !== '')) walk(Number(c));
    }
  };
  walk(pid);
  return out;
}
