// The opt-in frame log (log.frames): every frame in and out of the chosen charge points as one
// `cp.frame` line at info, for debugging one charger without a packet capture. A frame is client
// input, so the line is bounded like every line a charge point causes [SPEC §8]: control, bidi and
// invisible characters become visible escapes (as in the dashboard and `clients`), the text is cut at
// log.frame_max_chars, and each charge point gets log.frame_max_lines per log.cp_lines_window, the
// rest counted and summarised in one log.suppressed line.
import { escapeControls } from '../api/escape.js';
import type { Logger } from './log.js';
import { CpLog, type CpLogOptions } from './rate-limited-log.js';

export interface FrameLogSettings {
  /** log.frames: cpIds, or "*" for every charge point. */
  readonly frames: readonly string[];
  readonly frame_max_chars: number;
  readonly frame_max_lines: number;
  readonly cp_lines_window: number;
}

/** Which charge points get a frame log; absent (undefined) when log.frames is empty, so a connection pays nothing. */
export class FrameLogPolicy {
  readonly #everyone: boolean;
  readonly #cpIds: ReadonlySet<string>;
  readonly #settings: FrameLogSettings;

  private constructor(settings: FrameLogSettings) {
    this.#settings = settings;
    this.#everyone = settings.frames.includes('*');
    this.#cpIds = new Set(settings.frames);
  }

  static from(settings: FrameLogSettings): FrameLogPolicy | undefined {
    return settings.frames.length === 0 ? undefined : new FrameLogPolicy(settings);
  }

  /** This charge point's frame log, or undefined when its frames are not logged. */
  open(cpId: string, log: Logger, clock: CpLogOptions['clock'], onDropped: (msg: string) => void): FrameLog | undefined {
    if (!this.#everyone && !this.#cpIds.has(cpId)) return undefined;
    const s = this.#settings;
    return new FrameLog(cpId, s.frame_max_chars, new CpLog(log, { cpId, maxLines: s.frame_max_lines, windowMs: s.cp_lines_window, clock, onDropped }));
  }
}

export class FrameLog {
  readonly #cpId: string;
  readonly #maxChars: number;
  readonly #log: CpLog;

  constructor(cpId: string, maxChars: number, log: CpLog) {
    this.#cpId = cpId;
    this.#maxChars = maxChars;
    this.#log = log;
  }

  /** A frame read from the charge point (decoded only when the line is written). */
  in(data: Buffer, isBinary: boolean): void {
    this.#log.line('info', () => this.#fields('in', isBinary ? `<binary ${data.length} bytes>` : data.toString('utf8')), 'cp.frame');
  }

  /** A frame sent to the charge point. */
  out(text: string): void {
    this.#log.line('info', () => this.#fields('out', text), 'cp.frame');
  }

  /** At the teardown: the log.suppressed summary still pending. */
  flush(): void {
    this.#log.flush();
  }

  #fields(direction: 'in' | 'out', text: string): object {
    if (text.length <= this.#maxChars) return { cpId: this.#cpId, direction, frame: escapeControls(text) };
    // Never cut a surrogate pair in half.
    const end = isHighSurrogate(text.charCodeAt(this.#maxChars - 1)) ? this.#maxChars - 1 : this.#maxChars;
    return { cpId: this.#cpId, direction, frame: escapeControls(text.slice(0, end)), truncated: true, chars: text.length };
  }
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
