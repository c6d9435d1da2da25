// Human-readable log lines for a terminal (log.format pretty, or auto on a TTY): one line per event,
//   10:42:03.123Z INFO  cp.connected cpId=CP1 protocol=ocpp1.6
// made from the finished JSON line (after redaction), so both formats carry the same fields. Field
// values are client input (cpIds, frames, error texts): every control, bidi and invisible character
// is shown as a visible escape, so a log line cannot drive the operator's terminal. [SPEC §8]
import { escapeControls } from '../api/escape.js';

export type LogFormatSetting = 'json' | 'pretty' | 'auto';

/** How lines are written: the format (auto resolved) and whether pretty lines are coloured. */
export interface LogOutput {
  readonly format: 'json' | 'pretty';
  readonly colour: boolean;
}

export const JSON_OUTPUT: LogOutput = { format: 'json', colour: false };

/**
 * auto = pretty when stdout is a terminal. Colour only for pretty lines, and only on a terminal unless
 * FORCE_COLOR asks for it; NO_COLOR turns it off (the usual conventions, read as Node reads them).
 */
export function logOutput(setting: LogFormatSetting, stdout: { readonly isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): LogOutput {
  const tty = stdout.isTTY === true;
  if (setting === 'json' || (setting === 'auto' && !tty)) return JSON_OUTPUT;
  return { format: 'pretty', colour: wantsColour(tty, env) };
}

function wantsColour(tty: boolean, env: NodeJS.ProcessEnv): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return ['', '1', '2', '3', 'true'].includes(force);
  if ((env['NO_COLOR'] ?? '') !== '') return false;
  return tty && env['TERM'] !== 'dumb';
}

const RESET = '\u001b[0m';
const DIM = '\u001b[2m';
const BOLD = '\u001b[1m';
const LEVEL_STYLE: Record<string, string> = {
  fatal: '\u001b[1;97;41m',
  error: '\u001b[1;31m',
  warn: '\u001b[33m',
  info: '\u001b[32m',
  debug: '\u001b[36m',
  trace: '\u001b[90m',
};

/** Written by pino for every line and the same on all of them: not worth a terminal column. */
const NOT_SHOWN = new Set(['level', 'time', 'msg', 'service']);

/** A field value: bare when it has no blank, else quoted as JSON; objects as compact JSON. Always escaped. */
function shown(value: unknown): string {
  if (typeof value === 'string') return value !== '' && !/\s/.test(value) ? escapeControls(value) : escapeControls(JSON.stringify(value));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // JSON.stringify has escaped C0 inside strings already; escapeControls catches the rest.
  return escapeControls(JSON.stringify(value) ?? String(value));
}

/** One pino JSON line (newline-terminated) as a terminal line; anything that is not a JSON object passes unchanged. */
export function prettyLine(line: string, colour: boolean): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return line;
  const fields = entry as Record<string, unknown>;
  const paint = (style: string | undefined, text: string) => (colour && style !== undefined ? `${style}${text}${RESET}` : text);
  const level = typeof fields['level'] === 'string' ? fields['level'] : String(fields['level'] ?? '');
  // The ISO time as logged (UTC, so the Z stays): the date is left to the log collector.
  const time = typeof fields['time'] === 'string' ? fields['time'].slice(11) : '';
  const parts = [paint(DIM, time), paint(LEVEL_STYLE[level], level.toUpperCase().padEnd(5)), paint(BOLD, escapeControls(String(fields['msg'] ?? '')))];
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (NOT_SHOWN.has(key)) continue;
    if (key === 'stack' && typeof value === 'string') {
      stacks.push(value);
      continue;
    }
    parts.push(`${paint(DIM, `${escapeControls(key)}=`)}${shown(value)}`);
  }
  // A stack trace reads best below its line, one frame per line.
  const below = stacks.flatMap((s) => s.split('\n').map((l) => `    ${paint(DIM, escapeControls(l))}`));
  return `${[parts.join(' '), ...below].join('\n')}\n`;
}
