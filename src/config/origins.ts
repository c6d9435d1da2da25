// Where each configuration value came from (config file, environment variable or flag), so that an
// error names the place to fix, not only the key. [SPEC §2]

export type ValueOrigin =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'flag'; readonly flag: string };

function describe(origin: ValueOrigin): string {
  switch (origin.kind) {
    case 'file':
      return `config file ${origin.file}`;
    case 'env':
      return `environment variable ${origin.variable}`;
    case 'flag':
      return `flag ${origin.flag}`;
  }
}

const isKeyChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_.]/.test(c);

/**
 * Dotted key paths -> the source that set them, later sources replacing earlier ones as the merge of
 * the sources does: a value replaces whatever the earlier sources had at, above or below its path.
 */
export class ConfigOrigins {
  readonly #byKey = new Map<string, ValueOrigin>();

  set(key: string, origin: ValueOrigin): void {
    for (const k of [...this.#byKey.keys()]) {
      if (k.startsWith(`${key}.`) || key.startsWith(`${k}.`)) this.#byKey.delete(k);
    }
    this.#byKey.set(key, origin);
  }

  /** Records every leaf of a parsed source (arrays are leaves). */
  setTree(tree: Record<string, unknown>, origin: ValueOrigin, prefix = ''): void {
    for (const [k, v] of Object.entries(tree)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0) this.setTree(v as Record<string, unknown>, origin, key);
      else this.set(key, origin);
    }
  }

  /** The source of a key: its own, else that of the section above it, else that of a key below it. */
  of(key: string): ValueOrigin | undefined {
    const own = this.#byKey.get(key);
    if (own !== undefined) return own;
    const parts = key.split('.');
    for (let n = parts.length - 1; n > 0; n--) {
      const up = this.#byKey.get(parts.slice(0, n).join('.'));
      if (up !== undefined) return up;
    }
    for (const [k, origin] of this.#byKey) if (k.startsWith(`${key}.`)) return origin;
    return undefined;
  }

  /** Keys set by some source that `text` names, other than `except` and the keys above or below it. */
  mentioned(text: string, except: string): string[] {
    return [...this.#byKey.keys()].filter((key) => !(key === except || except.startsWith(`${key}.`) || key.startsWith(`${except}.`)) && mentions(text, key));
  }

  /**
   * A problem line "key: message" with the sources appended: that of the key itself ("from …") and
   * those of other keys it names ("auth.provider from …"). Keys left at their defaults add nothing.
   */
  annotate(line: string): string {
    const key = keyOf(line);
    if (key === undefined) return line;
    const notes: string[] = [];
    const own = this.of(key);
    if (own !== undefined) notes.push(`from ${describe(own)}`);
    for (const other of this.mentioned(line.slice(key.length + 1), key)) notes.push(`${other} from ${describe(this.#byKey.get(other) as ValueOrigin)}`);
    return notes.length === 0 ? line : `${line} (${notes.join('; ')})`;
  }
}

/** Whether `text` names `key` as a whole word (not as part of a longer key). */
export function mentions(text: string, key: string): boolean {
  for (let at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + 1)) {
    const after = text[at + key.length] === '.' ? text[at + key.length + 1] : text[at + key.length]; // a full stop ends a sentence
    if (!isKeyChar(text[at - 1]) && !isKeyChar(after)) return true;
  }
  return false;
}

/** The key of a problem line "key: message". */
export function keyOf(line: string): string | undefined {
  const m = /^([A-Za-z0-9_]+(?:\.[A-Za-z0-9_*]+)*): /.exec(line);
  return m?.[1];
}
