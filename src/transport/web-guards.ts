// The doors a web browser can reach. A page the operator visits may open WebSockets to any address
// (OCPP, MQTT over WebSocket) and, after DNS rebinding, send HTTP requests to the API under its own
// name. Browsers always say who they are (Origin on every WebSocket upgrade, their own name in Host);
// charge points and services send no Origin and name the gateway. [SPEC §3, §8]
import { isIP } from 'node:net';

/** A host with brackets, case and a trailing dot taken off: "[::1]" -> "::1", "LOCALHOST." -> "localhost". */
function bareHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** The canonical spelling of an IP literal (so "127.1" and "0:0:0:0:0:0:0:1" match), or the name as is. */
function canonicalHost(host: string): string {
  const h = bareHost(host);
  try {
    const parsed = new URL(`http://${isIP(h) === 6 ? `[${h}]` : h}/`).hostname;
    return bareHost(parsed);
  } catch {
    return h;
  }
}

/**
 * Loopback as Mosquitto 2 and the SPEC count it: 127.0.0.0/8, ::1 (also IPv4-mapped ::ffff:127.x.x.x)
 * and the name localhost. 0.0.0.0 and :: are every interface, not loopback. [SPEC §2]
 */
export function isLoopbackHost(host: string): boolean {
  const h = canonicalHost(host);
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  // WHATWG URL writes IPv4-mapped addresses in hex: ::ffff:127.0.0.1 -> ::ffff:7f00:1.
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h);
}

/** Origins compared in their serialised form (scheme://host[:port], default port dropped, lower case). */
function canonicalOrigin(origin: string): string {
  const o = origin.trim();
  try {
    const parsed = new URL(o).origin;
    if (parsed !== 'null') return parsed;
  } catch {
    // "null" (sandboxed frames, file://) and other opaque origins: compared as written.
  }
  return o.toLowerCase().replace(/\/$/, '');
}

/**
 * A WebSocket listener's Origin allow-list [SPEC §3]: an upgrade without Origin (a charge point, an
 * MQTT client library) passes; one with an Origin passes only if the list names it. An empty list
 * admits no browser; "*" in the list turns the check off.
 */
export class OriginPolicy {
  readonly #any: boolean;
  readonly #allowed: ReadonlySet<string>;

  constructor(list: readonly string[]) {
    this.#any = list.includes('*');
    this.#allowed = new Set(list.map(canonicalOrigin));
  }

  allows(origin: string | string[] | undefined): boolean {
    if (origin === undefined || this.#any) return true;
    if (Array.isArray(origin)) return origin.every((o) => this.allows(o));
    return this.#allowed.has(canonicalOrigin(origin));
  }
}

/** A Host header split into its name and port ("[::1]:18083" -> "::1", "18083"). */
function splitHostHeader(value: string): { name: string; port: string | undefined } {
  const v = value.trim();
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return { name: bareHost(v), port: undefined };
    const rest = v.slice(end + 1);
    return { name: canonicalHost(v.slice(0, end + 1)), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = v.indexOf(':');
  // More than one colon without brackets is not a valid Host; keep it whole so it matches nothing.
  if (colon < 0 || v.indexOf(':', colon + 1) >= 0) return { name: canonicalHost(v), port: undefined };
  return { name: canonicalHost(v.slice(0, colon)), port: v.slice(colon + 1) };
}

/**
 * The Host names the HTTP API answers to, against DNS rebinding [SPEC §8]: a page on evil.example
 * that re-points its name at 127.0.0.1 still sends `Host: evil.example`. Allowed:
 * - IP literals (127.0.0.1, [::1], the bind address or any other): no DNS lookup is involved, so a
 *   rebinding page cannot produce one; this also keeps probes that use a pod or host IP working;
 * - localhost and the bind address (api.host) when it is a name;
 * - api.allowed_hosts: names ("gw.example.com"), names with a port ("gw.example.com:8443") or a domain
 *   and its sub-domains (".example.com"); "*" turns the check off.
 * A request without Host (HTTP/1.0) names nothing else, and no browser sends one, so it passes.
 */
export class HostPolicy {
  readonly #any: boolean;
  readonly #names = new Set<string>();
  readonly #namesWithPort = new Set<string>();
  readonly #suffixes: string[] = [];

  constructor(bindHost: string, allowedHosts: readonly string[]) {
    this.#any = allowedHosts.includes('*');
    this.#names.add('localhost');
    this.#names.add(canonicalHost(bindHost));
    for (const entry of allowedHosts) {
      if (entry.startsWith('.')) {
        this.#suffixes.push(bareHost(entry));
        continue;
      }
      const { name, port } = splitHostHeader(entry);
      if (port === undefined) this.#names.add(name);
      else this.#namesWithPort.add(`${name}:${port}`);
    }
  }

  allows(host: string | undefined): boolean {
    if (host === undefined || host === '' || this.#any) return true;
    const { name, port } = splitHostHeader(host);
    return isIP(name) !== 0 || this.#named(name, port);
  }

  /**
   * A browser request's Origin, against cross-site requests a page can send without reading the
   * answer (a form or a no-cors fetch): the page's own origin (same host and port as Host), or a
   * name this policy admits. Unlike Host, an IP literal is not enough here: a page served from the
   * attacker's own address has an IP-literal origin. No Origin (not a browser, or a same-origin GET)
   * passes.
   */
  allowsOrigin(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined || this.#any) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // "null" (sandboxed frames, file://) and anything unreadable
    }
    if (host !== undefined && url.host === host.trim().toLowerCase()) return true;
    const name = canonicalHost(url.hostname);
    return isLoopbackHost(name) || this.#named(name, url.port === '' ? undefined : url.port);
  }

  #named(name: string, port: string | undefined): boolean {
    if (this.#names.has(name)) return true;
    if (port !== undefined && this.#namesWithPort.has(`${name}:${port}`)) return true;
    return this.#suffixes.some((s) => name === s.slice(1) || name.endsWith(s));
  }
}
