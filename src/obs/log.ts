// Logs (pino): one JSON object per line with the level by name ("level":"info"), or in pretty mode one
// human-readable line per event (pretty.ts). `msg` is a stable event id ("cp.connected"); cpId and
// messageId where they apply. Secrets never appear in a log line [SPEC §8]: fields named like secrets
// are censored, URL credentials (mqtt://user:pass@host) lose their password in every string, and the
// configured secrets themselves (mqtt.password, api.key, ...) are replaced wherever they occur.
import { pino, type Logger, type DestinationStream } from 'pino';
import { JSON_OUTPUT, logOutput, prettyLine, type LogFormatSetting, type LogOutput } from './pretty.js';

export type { Logger };

const CENSORED = '[redacted]';

/**
 * scheme://user:password@ in any text, a JSON log line included (so neither part may cross a quote or
 * a backslash); the user name stays (it identifies, it does not authenticate).
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#"\\]*):([^\s@/?#"\\]*)@/gi;

/** Literal secrets shorter than this are not searched for in text (a 1-letter password would censor every "a"); URL passwords of any length are masked. */
const MIN_LITERAL_SECRET = 6;

/** `mqtt://user:pass@host:1883` -> `mqtt://user:***@host:1883`; text without URL credentials is returned as is. */
export function redactUrl(url: string): string {
  return url.includes('@') ? url.replace(URL_CREDENTIALS, '$1$2:***@') : url;
}

/** Text with URL passwords masked and every known secret replaced. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = redactUrl(text);
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(CENSORED);
  return out;
}

/** The password of scheme://user:password@host as written (any characters up to the last @ of the authority). */
function urlPassword(url: string): string | undefined {
  const start = url.indexOf('://');
  if (start < 0) return undefined;
  const rest = url.slice(start + 3);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  return at < 0 || colon < 0 || colon > at ? undefined : authority.slice(colon + 1, at);
}

/**
 * The secrets of a configuration, as they may appear in text: passwords, the API key and the
 * passwords inside URLs (raw and percent-decoded), each also as JSON escapes it.
 */
export function configSecrets(config: {
  readonly mqtt: { readonly url: string; readonly password: string; readonly embedded: { readonly password: string } };
  readonly api: { readonly key: string };
  readonly auth: { readonly http: { readonly url: string } };
}): string[] {
  const found = [config.mqtt.password, config.mqtt.embedded.password, config.api.key];
  for (const url of [config.mqtt.url, config.auth.http.url]) {
    const raw = urlPassword(url);
    if (raw === undefined) continue;
    found.push(raw);
    try {
      found.push(decodeURIComponent(raw));
    } catch {
      // not valid percent-encoding: the raw form is enough
    }
  }
  const spelled = found.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  // Longest first, so a secret that contains another is replaced whole.
  return [...new Set(spelled.filter((s) => s.length >= MIN_LITERAL_SECRET))].sort((a, b) => b.length - a.length);
}

/** `output` (default JSON) decides the line format; lines go to `destination`, by default stdout. */
export function createLogger(level: string, destination?: DestinationStream, secrets: readonly string[] = [], output: LogOutput = JSON_OUTPUT): Logger {
  const pretty = output.format === 'pretty';
  const colour = output.colour;
  return pino({
    level,
    base: { service: 'ocpp-gateway' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // "info", not 30: readable in a terminal and by a log collector without pino's level table.
    formatters: { level: (label) => ({ level: label }) },
    // Fields that hold a secret whatever its value. Named paths only: wildcard paths tripled the cost
    // of every line (1.2 -> 4 µs), and configured secrets are caught anywhere by the hook below.
    redact: { paths: ['password', 'apiKey', 'authorization', 'headers.authorization'], censor: CENSORED },
    // The finished line, message and serialised errors included: URL credentials and known secrets;
    // then, in pretty mode, the redacted JSON becomes the terminal line.
    hooks: { streamWrite: pretty ? (line) => prettyLine(redactText(line, secrets), colour) : (line) => redactText(line, secrets) },
  }, destination ?? pino.destination({ dest: 1, sync: false }));
}

/** The logger a configuration asks for on stdout: log.level, log.format (auto looks at stdout), its secrets redacted. */
export function loggerFor(config: Parameters<typeof configSecrets>[0] & { readonly log: { readonly level: string; readonly format: LogFormatSetting } }): Logger {
  return createLogger(config.log.level, undefined, configSecrets(config), logOutput(config.log.format));
}
