// Client-controlled text (cpId, username, remote address, error descriptions, frames) shown to an
// operator, in a terminal (`ocpp-gateway clients`) or in the dashboard, with the characters that
// could drive the terminal or reorder what is shown turned into visible escapes. [SPEC §8]

/**
 * Beyond C0: DEL and the C1 controls (0x9b is an 8-bit CSI), the bidi controls that reorder text
 * (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the line and paragraph separators, and the
 * characters that show as nothing or as blank, so that "CP1" and "CP1" + U+200B look different: soft
 * hyphen, combining grapheme joiner, Hangul fillers, Khmer and Mongolian invisibles, zero-width space
 * and joiners, word joiner and invisible operators, deprecated format characters, ideographic space,
 * variation selectors, BOM, interlinear annotation characters.
 */
const UNSAFE_BEYOND_C0 = '\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb';
/** C0 controls (ESC starts terminal escape sequences) and the rest. The dashboard builds its own RegExp from this source. */
export const UNSAFE_CHARS_SOURCE = `[\\u0000-\\u001f${UNSAFE_BEYOND_C0}]`;
const UNSAFE_CHARS = new RegExp(UNSAFE_CHARS_SOURCE, 'g');
/** The same minus C0: JSON.stringify has escaped C0 inside strings already, and its newlines are layout. */
const UNSAFE_AFTER_JSON = new RegExp(`[${UNSAFE_BEYOND_C0}]`, 'g');

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, '0');

/** Every unsafe character as a visible escape: ESC -> \x1b, U+202E -> \u202e. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE_CHARS, (c) => (c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/** Pretty JSON for a terminal that is still valid JSON: the unsafe characters become \uXXXX escapes. */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE_AFTER_JSON, (c) => `\\u${hex(c, 4)}`);
}

/**
 * escapeControls for the dashboard page (plain browser JavaScript, no build step), as the source of
 * a function `shown(text)`; test/hostile-network.e2e.test.ts runs it against escapeControls.
 */
export const SHOWN_JS = `const UNSAFE = new RegExp(${JSON.stringify(UNSAFE_CHARS_SOURCE)}, 'g');
  function shown(text) {
    return String(text).replace(UNSAFE, (c) => { const n = c.charCodeAt(0); return n <= 0xff ? '\\\\x' + n.toString(16).padStart(2, '0') : '\\\\u' + n.toString(16).padStart(4, '0'); });
  }`;
