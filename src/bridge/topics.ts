// Topic templates, compiled once into level lists; rendering and parsing are plain loops. [SPEC §4]
import type { MessageKind } from '../session/channel.js';
import { decodeLevel, encodeLevel } from './topic-level.js';

export { decodeLevel, encodeLevel };

export const MESSAGE_KINDS: readonly MessageKind[] = ['request', 'response', 'error', 'send', 'resulterror'];

type Placeholder = 'cpId' | 'type' | 'action' | 'messageId' | 'protocol' | 'event';
type Piece = { literal: string } | { placeholder: Placeholder };
/** A topic level: literal text and placeholders, e.g. "cp-${cpId}". */
type Level = Piece[];

const ALIASES: Record<string, Placeholder> = {
  cpId: 'cpId', clientid: 'cpId', cid: 'cpId', type: 'type', action: 'action', messageId: 'messageId', id: 'messageId', protocol: 'protocol', event: 'event',
};

export type TopicValues = Partial<Record<Placeholder, string>>;

export function compileTemplate(template: string): Level[] | string {
  return template.split('/').map((text) => {
    const pieces: Piece[] = [];
    let i = 0;
    while (i < text.length) {
      const open = text.indexOf('${', i);
      if (open === -1) {
        pieces.push({ literal: text.slice(i) });
        break;
      }
      if (open > i) pieces.push({ literal: text.slice(i, open) });
      const close = text.indexOf('}', open);
      const name = close === -1 ? undefined : ALIASES[text.slice(open + 2, close)];
      if (close === -1 || name === undefined) return `unknown placeholder in "${template}" at "${text.slice(open)}"`;
      pieces.push({ placeholder: name });
      i = close + 1;
    }
    return pieces;
  }).reduce<Level[] | string>((acc, level) => (typeof acc === 'string' ? acc : typeof level === 'string' ? level : [...acc, level]), []);
}

function render(levels: readonly Level[], values: TopicValues): string {
  let out = '';
  for (let l = 0; l < levels.length; l++) {
    if (l > 0) out += '/';
    for (const piece of levels[l] as Level) out += 'literal' in piece ? piece.literal : encodeLevel(values[piece.placeholder] ?? '');
  }
  return out;
}

export interface TopicTemplates { readonly up: string; readonly dn: string; readonly event: string; readonly status: string }

export interface DownstreamTopic { readonly cpId: string; readonly type: MessageKind; readonly action: string; readonly messageId: string }

/** The topic layout of one gateway: mountpoint + templates. */
export class TopicLayout {
  readonly #up: Level[];
  readonly #dn: Level[];
  readonly #event: Level[];
  readonly #status: Level[];
  /** Per dn level, parsed once: the placeholder it fills, or the literal text it must equal. */
  readonly #dnMatch: ReadonlyArray<{ readonly placeholder: Placeholder } | { readonly literal: string }>;
  /** The same for the event topic: a whole-level placeholder, or the literal text of the level. */
  readonly #eventMatch: ReadonlyArray<{ readonly placeholder: Placeholder } | { readonly literal: string }>;

  private constructor(up: Level[], dn: Level[], event: Level[], status: Level[]) {
    this.#up = up;
    this.#dn = dn;
    this.#dnMatch = dn.map((level) => {
      const first = level[0];
      return first !== undefined && 'placeholder' in first ? { placeholder: first.placeholder } : { literal: level.map((p) => ('literal' in p ? p.literal : '')).join('') };
    });
    this.#event = event;
    this.#eventMatch = event.map((level) => {
      const first = level[0];
      return level.length === 1 && first !== undefined && 'placeholder' in first ? { placeholder: first.placeholder } : { literal: level.map((p) => ('literal' in p ? p.literal : '')).join('') };
    });
    this.#status = status;
  }

  /** Compiles and checks the templates; a string names the problem. */
  static create(mountpoint: string, t: TopicTemplates): TopicLayout | string {
    const compiled: Level[][] = [];
    for (const key of ['up', 'dn', 'event', 'status'] as const) {
      const c = compileTemplate(mountpoint + t[key]);
      if (typeof c === 'string') return `topics.${key}: ${c}`;
      compiled.push(c);
    }
    const [up, dn, event, status] = compiled as [Level[], Level[], Level[], Level[]];
    for (const level of dn) {
      const placeholders = level.filter((p) => 'placeholder' in p);
      if (placeholders.length > 0 && level.length !== 1) return 'topics.dn: each placeholder must fill a whole topic level';
    }
    for (const needed of ['cpId', 'type', 'action', 'messageId'] as const) {
      if (!dn.some((l) => l.some((p) => 'placeholder' in p && p.placeholder === needed))) return `topics.dn: must contain \${${needed}}`;
    }
    return new TopicLayout(up, dn, event, status);
  }

  up(cpId: string, type: MessageKind, action: string, messageId: string, protocol: string): string {
    return render(this.#up, { cpId, type, action, messageId, protocol });
  }

  event(cpId: string, event: 'connected' | 'disconnected' | 'rejected' | 'takeover', protocol = ''): string {
    return render(this.#event, { cpId, event, protocol });
  }

  /** A filter for one event of every charge point ("ocpp/+/event/takeover"). */
  eventFilter(event: string): string {
    return this.#event
      .map((level) => (level.length === 1 && level[0] !== undefined && 'placeholder' in level[0] ? (level[0].placeholder === 'event' ? event : '+') : level.map((p) => ('literal' in p ? p.literal : '+')).join('')))
      .join('/');
  }

  /** The cpId of an event topic for `event`, or undefined. */
  parseEvent(topic: string, event: string): string | undefined {
    // Every message on an external broker passes here (takeover announcements share the connection
    // with dn traffic): level by level with indexOf, no split, no per-call arrays; a dn topic is
    // refused at its first literal level that differs.
    const match = this.#eventMatch;
    let cpId: string | undefined;
    let start = 0;
    for (let i = 0; i < match.length; i++) {
      const slash = topic.indexOf('/', start);
      const last = i === match.length - 1;
      if (last ? slash !== -1 : slash === -1) return undefined;
      const end = last ? topic.length : slash;
      const m = match[i] as { placeholder: Placeholder } | { literal: string };
      if ('placeholder' in m) {
        if (m.placeholder === 'event') {
          if (end - start !== event.length || !topic.startsWith(event, start)) return undefined;
        } else if (m.placeholder === 'cpId') cpId = decodeLevel(topic.slice(start, end));
      } else if (end - start !== m.literal.length || !topic.startsWith(m.literal, start)) return undefined;
      start = end + 1;
    }
    return cpId;
  }

  status(cpId: string, protocol = ''): string {
    return render(this.#status, { cpId, protocol });
  }

  /** The subscription that carries every downstream message for one charge point. */
  dnFilter(cpId: string): string {
    return this.#dn
      .map((level) => {
        const first = level[0];
        if (first !== undefined && 'placeholder' in first) return first.placeholder === 'cpId' ? encodeLevel(cpId) : '+';
        return level.map((p) => ('literal' in p ? p.literal : '')).join('');
      })
      .join('/');
  }

  /**
   * One subscription for every charge point's downstream messages: each level that holds a placeholder
   * becomes "+" ("ocpp/+/dn/+/+/+"). Levels the filter lets through that do not fit are refused by parseDn.
   */
  dnWildcard(): string {
    return this.#dn.map((level) => (level.some((p) => 'placeholder' in p) ? '+' : level.map((p) => ('literal' in p ? p.literal : '')).join(''))).join('/');
  }

  /** Reads cpId, type, action and messageId from a downstream topic; undefined if it does not fit. */
  parseDn(topic: string): DownstreamTopic | undefined {
    // Every service message passes here: level by level with indexOf, no split, no per-call arrays.
    const match = this.#dnMatch;
    const values: TopicValues = {};
    let start = 0;
    for (let i = 0; i < match.length; i++) {
      const slash = topic.indexOf('/', start);
      const last = i === match.length - 1;
      // As many levels as the template: a slash after the last one, or none before it, does not fit.
      if (last ? slash !== -1 : slash === -1) return undefined;
      const end = last ? topic.length : slash;
      const part = topic.slice(start, end);
      const m = match[i] as { placeholder: Placeholder } | { literal: string };
      if ('placeholder' in m) {
        const decoded = decodeLevel(part);
        if (decoded === undefined) return undefined;
        values[m.placeholder] = decoded;
      } else if (part !== m.literal) return undefined;
      start = end + 1;
    }
    const type = values.type as MessageKind;
    if (!MESSAGE_KINDS.includes(type) || values.cpId === undefined || values.action === undefined || values.messageId === undefined) return undefined;
    return { cpId: values.cpId, type, action: values.action, messageId: values.messageId };
  }
}
