// How much of a client's text the gateway quotes back in its own words (CALLERROR descriptions,
// validator paths, event/rejected, log lines): a charge point can send a 200 KiB messageId or property
// name, and each report quoting it in full would multiply it. [SPEC §8]

/**
 * `text` if it has at most `max` UTF-16 units; otherwise its start and "…", `max` units in all, never
 * ending on half of a surrogate pair (a lone surrogate is not well-formed text).
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
