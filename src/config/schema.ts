// The one configuration schema: every key, its type, default and documentation. The Config type is
// derived from it; docs/configuration.md is generated from it (npm run docs:config) and a test keeps
// the two in sync.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';
import { isLoopbackHost } from '../transport/web-guards.js';
import { PROTOCOL_NAMES, isProtocol, type Protocol } from '../ocpp/profiles/index.js';

function fromParser(parse: (v: unknown) => number | string) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const parsed = parse(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });
}

const duration = (def: string, doc: string) => fromParser(parseDuration).prefault(def).meta({ description: doc, 'x-type': 'duration' });
const size = (def: string, doc: string) => fromParser(parseSize).prefault(def).meta({ description: doc, 'x-type': 'size' });

function int(def: number, min: number, max: number, doc: string) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const n = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return n;
    })
    .prefault(def)
    .meta({ description: doc, 'x-type': `integer ${min}–${max}` });
}

/** ocpp.workers: a count, or "auto" = one per core (os.availableParallelism()), resolved here. [SPEC §7] */
function workerCount(def: number, max: number, doc: string) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      if (value === 'auto') return availableParallelism();
      const n = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
      if (!Number.isInteger(n) || n < 1 || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from 1 to ${max} or "auto", got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return n;
    })
    .prefault(def)
    .meta({ description: doc, 'x-type': `integer 1–${max}, or auto` });
}

const port = (def: number, doc: string) => int(def, 0, 65535, `${doc} 0 picks a free port (logged at start).`);

function bool(def: boolean, doc: string) {
  return z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
    .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes')
    .prefault(def)
    .meta({ description: doc, 'x-type': 'boolean' });
}

const str = (def: string, doc: string) => z.string().prefault(def).describe(doc);

function oneOf<const T extends readonly [string, ...string[]]>(values: T, def: T[number], doc: string) {
  return z.enum(values).prefault(def).describe(doc);
}

function list(def: string[], doc: string) {
  return z
    .union([z.array(z.string()), z.string()])
    .transform((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v))
    .prefault(def)
    .meta({ description: doc, 'x-type': 'list of strings' });
}

/** Protocols the gateway can speak (ocpp/profiles/index.ts); the order of ocpp.protocols is its preference. */
export const SUPPORTED_PROTOCOLS = PROTOCOL_NAMES;

const section = <T extends z.ZodRawShape>(shape: T, doc: string) => // {} is valid input: every field has its own default.
  z.strictObject(shape).prefault({} as never).describe(doc);

/** Every key: its type, default and documentation. configSchema adds the rules between keys. */
export const configShape = z
  .strictObject({
    ocpp: section(
      {
        enabled: bool(true, 'Serve the plain WebSocket (ws://) listener. Turn off to accept only wss:// (ocpp.tls).'),
        host: str('0.0.0.0', 'Address the OCPP WebSocket listener binds to.'),
        port: port(33033, 'Port of the OCPP WebSocket listener.'),
        security_profile: int(0, 0, 3, 'Security profile of the ws:// listener: 0 = as auth.provider decides; 1 = HTTP Basic credentials required (OCPP security profile 1); 3 = behind a TLS-terminating proxy that forwards the verified client certificate in ocpp.client_cert_header (2 is not possible without TLS).'),
        path: str('/ocpp', 'Path prefix; a charge point connects to <path>/<cpId>.'),
        protocols: list([...PROTOCOL_NAMES], `Subprotocols accepted, in the gateway's order of preference (the first one the client also offers is chosen). Known: ${PROTOCOL_NAMES.join(', ')}.`),
        default_protocol: str('', 'Protocol assumed (not echoed) when a client offers no acceptable subprotocol; empty = complete the handshake without a subprotocol and close at once (1002 no_subprotocol), as OCPP-J asks.'),
        max_id_length: int(48, 1, 1024, 'Longest accepted cpId, in characters after percent-decoding.'),
        ws_ping_interval: duration('60s', 'Interval of WebSocket pings to each charge point; 0 = no pings.'),
        keepalive_timeout: duration('180s', 'A charge point silent (no frame, no pong) this long is closed (reason keepalive_timeout); 0 = never.'),
        keepalive_follow_heartbeat: bool(true, 'After an accepted BootNotification, allow silence of up to 1.5 x its heartbeat interval when that is longer than keepalive_timeout.'),
        max_frame_size: size('256KiB', 'Largest inbound WebSocket message; larger closes the connection with 1009.'),
        max_bad_messages: int(10, 0, 1_000_000, 'The max_bad_messages-th bad frame within bad_messages_window closes the connection with 1008 (too_many_bad_messages); 0 = unlimited. Bad: not OCPP-J, nested beyond max_json_depth, or a CALLRESULT/CALLERROR/CALLRESULTERROR for no pending CALL.'),
        bad_messages_window: duration('1m', 'Window over which max_bad_messages is counted.'),
        max_json_depth: int(32, 3, 1000, 'Deepest nesting of arrays and objects in a frame (the frame\'s own array is level 1), checked by a linear scan before parsing; deeper is a malformed frame (too_deep). Real OCPP messages nest about 8 levels; 32 leaves room for vendor DataTransfer data while keeping schema checks and serialisation far from the stack limit. Service payloads get the same bound.'),
        max_rejected_events: int(20, 0, 1_000_000, 'event/rejected messages published per charge point within rejected_events_window; the rest are counted (rejected_events_suppressed_total) and summarised in one event/rejected with reason suppressed when the window ends. Refused upgrades (log line and event) are budgeted the same way per source address, summarised in one cp.upgrade_refusals_suppressed log line. 0 = unlimited.'),
        rejected_events_window: duration('1m', 'Window over which max_rejected_events is counted.'),
        max_connections: int(100_000, 1, 10_000_000, 'Most charge point connections at once; beyond it upgrades get HTTP 503.'),
        workers: workerCount(1, 1024, 'Worker processes serving the OCPP listeners (node:cluster, round-robin); "auto" = one per core. 1 = everything in this one process. With more, the limits of this section (max_connections, connect rates, per-address limits) hold per worker; see docs/scaling.md.'),
        handshake_timeout: duration('10s', 'Time allowed from TCP accept to a completed WebSocket upgrade (includes authentication).'),
        max_outbound_buffer: size('4MiB', 'Bytes queued for a charge point that does not read; beyond it the connection is closed (1008, slow_consumer).'),
        max_connections_per_address: int(1000, 1, 10_000_000, 'Most connections (and upgrades in progress) from one remote address; beyond it HTTP 429.'),
        max_connect_rate: int(1000, 1, 1_000_000, 'New upgrade attempts accepted per second (token bucket, shared by all listeners); beyond it HTTP 429.'),
        connect_burst: int(2000, 1, 10_000_000, 'Upgrade attempts allowed at once above max_connect_rate (the bucket size).'),
        max_connect_rate_per_address: int(100, 0, 1_000_000, 'New upgrade attempts accepted per second from one source address (IPv6: one /64), checked before max_connect_rate so that one address cannot spend the gateway\'s whole rate; beyond it HTTP 429 address_rate_limited. Chargers behind one NAT share it: raise it for large NAT sites. 0 = no per-address rate.'),
        connect_burst_per_address: int(200, 1, 10_000_000, 'Upgrade attempts allowed at once from one address above max_connect_rate_per_address (e.g. a depot reconnecting after an outage).'),
        allowed_origins: list([], 'Browser origins (scheme://host[:port]) allowed to open an OCPP WebSocket. An upgrade with an Origin header not in this list is refused (HTTP 403, origin_not_allowed); empty = no browser origin is allowed; "*" turns the check off. Chargers send no Origin and are not affected; browsers always send one.'),
        trusted_proxies: list([], 'Addresses of load balancers whose X-Forwarded-For (first address), PROXY protocol header and client certificate header are believed.'),
        proxy_protocol: bool(false, 'Every connection starts with a PROXY protocol v1 or v2 header (HAProxy, AWS NLB); its source address becomes the charge point\'s address. With trusted_proxies set, connections from other addresses are dropped.'),
        client_cert_header: str('', 'Header in which a TLS-terminating proxy forwards the client certificate (URL-encoded PEM, e.g. nginx $ssl_client_escaped_cert), for security_profile 3 on the ws:// listener. Read only from trusted_proxies.'),
        tls: section(
          {
            host: str('0.0.0.0', 'Address of the wss:// listener.'),
            port: port(33034, 'Port of the wss:// listener (it runs only when cert_file is set).'),
            cert_file: str('', 'Server certificate chain (PEM). Setting it turns the wss:// listener on. Reloaded on change and on SIGHUP.'),
            key_file: str('', 'Private key of the server certificate (PEM; RSA or ECDSA).'),
            ca_file: str('', 'CA certificates (PEM) that sign charge point client certificates; required for security_profile 3.'),
            security_profile: int(2, 2, 3, '2 = TLS + HTTP Basic credentials required; 3 = TLS + a client certificate signed by ca_file required.'),
            cn_must_match: bool(true, 'Profile 3: the client certificate\'s subject CN must equal the cpId.'),
            min_version: oneOf(['TLSv1.2', 'TLSv1.3'], 'TLSv1.2', 'Lowest TLS version accepted.'),
          },
          'The wss:// listener (OCPP security profiles 2 and 3).',
        ),
        max_inflight_publishes: int(64, 1, 100_000, 'Publishes a charge point caused (its messages, gateway errors about them, its event/rejected) awaiting the broker before reading from its socket pauses (backpressure).'),
        max_frames_per_turn: int(100, 1, 1_000_000, 'Frames read from one charge point in one event-loop turn; then reading from it pauses until the next turn (the rest of the current read is still handled), so a charge point that floods cannot hold the loop while others wait. A charge point that waits for answers, as OCPP-J requires, never reaches it.'),
        max_frame_rate: int(200, 0, 1_000_000, 'Frames per second read from one charge point, sustained (token bucket of frame_burst); beyond it reading from that charge point pauses until the rate allows more (frames of a read already received are still handled, max_frames_per_turn at a time, and the overdraft is waited off before the socket is read again; nothing is dropped), so one that pipelines frames without waiting for answers cannot take the event loop from the others. A charger that waits for each answer, as OCPP-J requires, sends a few frames per second. 0 = unlimited.'),
        frame_burst: int(400, 1, 10_000_000, 'Frames one charge point may send at once above max_frame_rate (the bucket size), e.g. the StatusNotifications of every connector at boot.'),
      },
      'The charge point side: WebSocket listener and connection limits.',
    ),
    mqtt: section(
      {
        url: str('', 'External broker URL (mqtt://, mqtts://, ws://, wss://, or mqtt+unix:///path/to/socket for a broker on a unix socket of this host). Empty = run the embedded broker.'),
        client_id: str('', 'MQTT client id towards an external broker; empty = ocpp-gateway-<random>.'),
        username: str('', 'Username towards an external broker.'),
        password: str('', 'Password towards an external broker.'),
        qos: int(1, 0, 2, 'QoS of every publish the gateway makes (subscriptions use QoS 1).'),
        mountpoint: str('ocpp/', 'Prefix of every topic the gateway publishes or subscribes.'),
        keepalive: duration('60s', 'MQTT keepalive towards an external broker.'),
        reconnect_period: duration('1s', 'First delay before reconnecting to an external broker; it doubles on each failed attempt up to reconnect_max.'),
        reconnect_max: duration('30s', 'Longest delay between reconnect attempts.'),
        connect_timeout_exit: duration('0', 'External broker: 0 = the gateway starts without it and keeps reconnecting (reconnect_period, reconnect_max), /readyz answers 503 and charge points are refused (503) until it connects; more than 0 = wait this long for the first connection before opening any listener, then exit 1 (a refused CONNECT or a broker certificate that does not verify stops the start at once either way).'),
        reconnect_jitter: z.number().min(0).max(1).or(z.string().transform(Number).pipe(z.number().min(0).max(1))).prefault(0.3).meta({ description: 'Random share taken off each delay (0 to 1), so that many gateways do not reconnect in step.', 'x-type': 'number 0–1' }),
        protocol_version: oneOf(['3.1.1', '5'], '3.1.1', 'MQTT version towards an external broker. With 5, every publish about a charge point carries user properties cpId, action and protocol.'),
        client_mode: oneOf(['shared', 'per_client'], 'shared', 'shared: one broker connection carries every charge point and the gateway authenticates them. per_client (external broker only): one broker connection per charge point, client id = cpId, its Basic credentials passed to the broker, whose CONNACK decides the upgrade (refused -> HTTP 401); a will message marks it offline if the gateway dies.'),
        per_client: section(
          {
            persistent_session: bool(false, 'Keep each charge point\'s broker session (and its subscription) while it is offline, so QoS 1 CALLs published for it meanwhile are delivered when it returns (MQTT 3.1.1 clean session off; MQTT 5 clean start off with session_expiry).'),
            session_expiry: duration('2h', 'MQTT 5 with persistent_session: how long the broker keeps an offline charge point\'s session. (MQTT 3.1.1 brokers decide this themselves, e.g. Mosquitto\'s persistent_client_expiration.)'),
            connect_timeout: duration('5s', 'How long the upgrade waits for the broker\'s CONNACK and SUBACK for one charge point; later is a 503 not_ready (and never more than ocpp.handshake_timeout).'),
          },
          'mqtt.client_mode = per_client.',
        ),
        offline_calls: oneOf(['reject', 'queue'], 'reject', 'A charge point CALL while the external broker is unreachable: reject = CALLERROR InternalError at once (gateway reason broker_unavailable), nothing published; queue = held by the MQTT client and published after the reconnect (the charge point waits, up to upstream.awaiting_timeout).'),
        tls: section(
          {
            ca_file: str('', 'CA certificates (PEM) that sign the broker\'s certificate (mqtts://, wss://); empty = the system\'s.'),
            cert_file: str('', 'Client certificate (PEM) for brokers that authenticate clients by certificate.'),
            key_file: str('', 'Key of the client certificate (PEM).'),
            servername: str('', 'TLS server name (SNI and certificate check) when it differs from the URL\'s host.'),
            reject_unauthorized: bool(true, 'Refuse a broker whose certificate does not verify. Turn off only for tests.'),
          },
          'TLS towards an external broker.',
        ),
        embedded: section(
          {
            host: str('127.0.0.1', 'Address the embedded broker binds to (TCP and WebSocket). Loopback by default, as Mosquitto 2 does; beyond loopback (e.g. 0.0.0.0) it needs username/password, or allow_anonymous.'),
            port: port(1883, 'TCP port of the embedded broker.'),
            ws_port: port(8083, 'WebSocket port of the embedded broker.'),
            ws_enabled: bool(true, 'Serve MQTT over WebSocket as well.'),
            ws_path: str('/mqtt', 'Path of the embedded broker\'s WebSocket listener.'),
            username: str('', 'When set (with password), every MQTT client of the embedded broker must log in with this user name; empty = any client may connect (bind host to loopback then).'),
            password: str('', 'The password that goes with mqtt.embedded.username.'),
            allow_anonymous: bool(false, 'Let MQTT clients in without a login when host is beyond loopback (logged as mqtt.embedded_open at start). Without it, a non-loopback host and no username/password is a startup error.'),
            allowed_origins: list([], 'Browser origins allowed to open MQTT over WebSocket on the embedded broker; an upgrade with an Origin not in this list gets HTTP 403. Empty = no browser origin; "*" turns the check off. MQTT client libraries outside a browser send no Origin.'),
          },
          'The embedded broker (used when mqtt.url is empty).',
        ),
      },
      'The service side: the MQTT broker.',
    ),
    topics: section(
      {
        preset: oneOf(['default', 'emqx5'], 'default', 'default: the layout below (type, action and messageId as topic levels). emqx5: the EMQX 5 OCPP gateway\'s layout for users migrating from EMQX — cp/{cpId} (CALLs from charge points), cp/{cpId}/Reply (their replies, and gateway errors), cs/{cpId} (everything to charge points), with envelope payloads {MessageTypeId, UniqueId, Action, Payload | ErrorCode, ErrorDescription, ErrorDetails}; up and dn are then not used, event and status are.'),
        up: str('${cpId}/up/${type}/${action}/${messageId}', 'Template of topics for messages from a charge point (after the mountpoint).'),
        dn: str('${cpId}/dn/${type}/${action}/${messageId}', 'Template of topics for messages to a charge point (after the mountpoint). ${type}, ${action} and ${messageId} must each fill a whole topic level.'),
        event: str('${cpId}/event/${event}', 'Template of connection event topics.'),
        status: str('${cpId}/status', 'Template of the retained presence topic.'),
      },
      'MQTT topic layout. Placeholders: ${cpId} (= ${clientid}), ${type}, ${action}, ${messageId} (= ${id}), ${protocol}, ${event}.',
    ),
    upstream: section(
      {
        awaiting_timeout: duration('30s', 'How long a charge point CALL waits for the service\'s answer.'),
        on_timeout: oneOf(['error', 'silent'], 'error', 'On timeout: answer the charge point with CALLERROR InternalError (error) or send nothing (silent). A gateway timeout error is published either way.'),
        concurrent_calls: oneOf(['forward', 'reject'], 'forward', 'A second CALL from a charge point while one is pending: forward it (counted) or reject it with a CALLERROR.'),
        max_pending: int(16, 1, 1000, 'With concurrent_calls = forward: most CALLs from one charge point awaiting answers at once; beyond it, CALLERROR GenericError.'),
      },
      'Charge point to service CALLs.',
    ),
    dnstream: section(
      {
        max_mqueue_len: int(100, 0, 100_000, 'CALLs that may wait behind the one in flight to a charge point; overflow gets a queue_full error.'),
        retry_interval: duration('30s', 'How long one attempt of a downstream CALL waits for the charge point\'s answer.'),
        max_retries: int(0, 0, 100, 'Re-sends of an unanswered downstream CALL on the same connection before a timeout error.'),
      },
      'Service to charge point CALLs.',
    ),
    auth: section(
      {
        provider: oneOf(['none', 'file', 'http', 'broker'], 'none', 'none: every charge point is admitted; file: HTTP Basic checked against auth.file; http: an auth service decides (auth.http); broker: only the broker decides (requires mqtt.client_mode per_client, where the broker sees the credentials whatever the provider).'),
        file: str('', 'Credentials file (YAML or JSON map cpId -> password hash from `ocpp-gateway hash-password`). Reloaded on change and on SIGHUP.'),
        username_must_match: bool(true, 'The Basic username must equal the cpId; the password is everything after "<cpId>:".'),
        // [SPEC §8] bounded credential checks: see src/auth/check-gate.ts and docs/operations.md.
        max_checks_in_flight: int(2, 1, 1024, 'auth.provider file: password hashes (scrypt/pbkdf2) computed at once. Each runs on a thread of libuv\'s pool (4 threads unless UV_THREADPOOL_SIZE says otherwise) for tens of milliseconds; keep this below the pool size so DNS lookups, file reads and other crypto still find a free thread during a login storm. Raise it together with UV_THREADPOOL_SIZE on hosts with more cores.'),
        max_checks_queued: int(256, 0, 1_000_000, 'Credential checks (password hashes, auth service requests) waiting for a free slot; beyond it HTTP 503 auth_busy. Waiting checks are served round-robin per address, and a check whose client left or timed out is dropped before it runs. The default drains in about 8 s at 2 checks of 65 ms at once, within ocpp.handshake_timeout.'),
        failure_limit: int(10, 0, 1_000_000, 'Failed credential checks from one address (an IPv6 /64) within failure_window after which its further attempts are refused with HTTP 429 auth_throttled, without checking; 0 = no throttling. Cached successes are still admitted (fleets behind one NAT).'),
        failure_window: duration('1m', 'Window over which failure_limit is counted.'),
        failure_backoff: duration('10s', 'How long an address stays throttled the first time; each further block doubles it, up to failure_backoff_max. A successful check clears the address\'s record.'),
        failure_backoff_max: duration('5m', 'Longest throttling of an address.'),
        max_tracked_addresses: int(10_000, 1, 10_000_000, 'Addresses whose failures are remembered (about 100 bytes each); beyond it the least recently seen is forgotten.'),
        http: section(
          {
            url: str('', 'The auth service: POST JSON {cpId, username, password, password_base64, remoteAddress, certificateCn, certificateFingerprint, protocol, listener}; answer 200 {"allow": true|false, "expire_at"?: ISO-8601 or epoch seconds, "reason"?}. Credentials in the URL (https://user:pass@host/…) are sent as an Authorization: Basic header and never logged.'),
            timeout: duration('3s', 'An answer later than this denies (fail closed).'),
            cache_ttl: duration('60s', 'How long an answer is reused for the same cpId, password and certificate; 0 = never cached. Denials are cached for at most 5 s.'),
            cache_size: int(100_000, 0, 10_000_000, 'Most cached answers.'),
            max_in_flight: int(16, 1, 10_000, 'Requests to the auth service at once; more wait in the same queue as password checks (auth.max_checks_queued), round-robin per address.'),
          },
          'auth.provider = http.',
        ),
      },
      'Charge point authentication at the WebSocket upgrade.',
    ),
    api: section(
      {
        host: str('127.0.0.1', 'Address of the HTTP API and health endpoints.'),
        port: port(18083, 'Port of the HTTP API.'),
        enabled: bool(true, 'Serve the HTTP API.'),
        key: str('', 'API key: required as "Authorization: Bearer <key>" (or X-API-Key) on every route but /, /healthz, /readyz and the OpenAPI document. Mandatory when api.host is not a loopback address.'),
        max_call_timeout: duration('5m', 'Longest timeout_ms a POST /api/v1/clients/{cpId}/calls may ask for.'),
        allowed_hosts: list([], 'Host names the API answers to besides IP literals, localhost and api.host (against DNS rebinding): "gw.example.com", "gw.example.com:8443" (that port only) or ".example.com" (the domain and its sub-domains). Other Host headers get HTTP 421 host_not_allowed on every route; a browser Origin must be the API\'s own, loopback or one of these names (else 403 cross_origin). "*" turns both checks off (e.g. behind a proxy that checks Host itself).'),
      },
      'HTTP API, metrics and dashboard.',
    ),
    log: section(
      {
        level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', 'Log level.'),
        format: oneOf(['json', 'pretty', 'auto'], 'auto', 'Lines on stdout: json = one JSON object per line (for log collectors); pretty = one human-readable line per event, coloured on a terminal (NO_COLOR and FORCE_COLOR are honoured); auto = pretty when stdout is a terminal, else json.'),
        frames: list([], 'Charge points whose every frame in and out is logged (cp.frame, at info, with cpId, direction and the frame text): cpIds, or "*" for all. Frames are client input: control and invisible characters are escaped and each frame is cut at frame_max_chars.'),
        frame_max_chars: int(4096, 64, 1_048_576, 'Characters of a frame written to a cp.frame line; a longer frame is cut (truncated: true, chars: its length).'),
        frame_max_lines: int(600, 0, 1_000_000, 'cp.frame lines per charge point within cp_lines_window; the rest are dropped, counted (log_lines_suppressed_total{event="cp.frame"}) and summarised in one log.suppressed line. 0 = unlimited.'),
        max_cp_lines: int(20, 0, 1_000_000, 'Log lines per charge point and event id (msg) within cp_lines_window; the rest are dropped, counted (log_lines_suppressed_total) and summarised in one log.suppressed line when the window ends. 0 = unlimited.'),
        cp_lines_window: duration('1m', 'Window over which log.max_cp_lines is counted.'),
      },
      'Logging.',
    ),
    message_format_checking: z
      .enum(['all', 'upstream', 'dnstream', 'disable', 'upstream_only', 'dnstream_only'])
      .transform((v) => (v === 'upstream_only' ? 'upstream' : v === 'dnstream_only' ? 'dnstream' : v))
      .prefault('all')
      .meta({ description: 'Schema validation of payloads: all (both directions), upstream (from charge points), dnstream (from services) or disable. EMQX spellings upstream_only and dnstream_only are accepted.', 'x-type': '`all` \\| `upstream` \\| `dnstream` \\| `disable`' }),
    json_schema_dir: str('', 'Folder of official OCPP 1.6 JSON schema files to validate with instead of the bundled ones (files matched to actions by id, title or name).'),
    json_schema_id_prefix: str('urn:OCPP:1.6:2019:12:', 'Prefix of schema ids in json_schema_dir: an id <prefix><Action>Request / <prefix><Action>Response names the action (as in EMQX).'),
    validation: section(
      {
        exempt_actions: list([], 'Actions whose payloads are never validated (for chargers known to break a schema).'),
        exempt_cp_ids: list([], 'Charge points whose messages are never validated.'),
        log_only: bool(false, 'Validate and report failures (log, counter) but forward the message anyway.'),
      },
      'Leniency for real chargers.',
    ),
    shutdown_timeout: duration('10s', 'Longest a graceful shutdown (SIGTERM/SIGINT) may take before the process exits anyway.'),
  });

/**
 * Rules between keys. Run by configSchema once every key parses, and by loadConfig on a copy with the
 * bad keys at their defaults, so that they are reported in the same pass as single-key errors.
 */
export function crossKeyRules(cfg: z.output<typeof configShape>, ctx: z.core.$RefinementCtx<z.output<typeof configShape>>): void {
  for (const [i, p] of cfg.ocpp.protocols.entries()) {
    if (!isProtocol(p)) {
      ctx.addIssue({ code: 'custom', path: ['ocpp', 'protocols', i], message: `unknown protocol "${p}" (known: ${SUPPORTED_PROTOCOLS.join(', ')})` });
    }
  }
  if (cfg.ocpp.protocols.length === 0) ctx.addIssue({ code: 'custom', path: ['ocpp', 'protocols'], message: 'at least one protocol is required' });
  if (cfg.ocpp.default_protocol !== '' && !cfg.ocpp.protocols.includes(cfg.ocpp.default_protocol)) {
    ctx.addIssue({ code: 'custom', path: ['ocpp', 'default_protocol'], message: `must be one of ocpp.protocols (${cfg.ocpp.protocols.join(', ')})` });
  }
  if (!cfg.ocpp.path.startsWith('/')) ctx.addIssue({ code: 'custom', path: ['ocpp', 'path'], message: 'must start with "/"' });
  if (cfg.json_schema_dir !== '' && cfg.message_format_checking === 'disable') {
    ctx.addIssue({ code: 'custom', path: ['json_schema_dir'], message: 'is set but message_format_checking is disable' });
  }
  if (cfg.api.enabled && cfg.api.key === '' && !isLoopbackHost(cfg.api.host)) {
    ctx.addIssue({ code: 'custom', path: ['api', 'key'], message: `is required when api.host (${cfg.api.host}) is not a loopback address` });
  }
  if (cfg.auth.provider === 'http' && cfg.auth.http.url === '') {
    ctx.addIssue({ code: 'custom', path: ['auth', 'http', 'url'], message: 'is required when auth.provider is "http"' });
  }
  const tls = cfg.ocpp.tls;
  if (tls.cert_file !== '' && tls.key_file === '') ctx.addIssue({ code: 'custom', path: ['ocpp', 'tls', 'key_file'], message: 'is required with ocpp.tls.cert_file' });
  if (tls.cert_file !== '' && tls.security_profile === 3 && tls.ca_file === '') {
    ctx.addIssue({ code: 'custom', path: ['ocpp', 'tls', 'ca_file'], message: 'is required for security_profile 3 (it verifies client certificates)' });
  }
  if (cfg.ocpp.enabled && cfg.ocpp.security_profile === 3 && tls.ca_file === '') {
    ctx.addIssue({ code: 'custom', path: ['ocpp', 'tls', 'ca_file'], message: 'is required for ocpp.security_profile 3 (it verifies the client certificates the proxy forwards)' });
  }
  if (!cfg.ocpp.enabled && tls.cert_file === '') ctx.addIssue({ code: 'custom', path: ['ocpp', 'enabled'], message: 'is false and no wss:// listener is configured (ocpp.tls.cert_file): no charge point could connect' });
  if (cfg.auth.provider === 'file' && cfg.auth.file === '') {
    ctx.addIssue({ code: 'custom', path: ['auth', 'file'], message: 'is required when auth.provider is "file"' });
  }
  if (cfg.mqtt.client_mode === 'per_client' && cfg.mqtt.url === '') {
    ctx.addIssue({ code: 'custom', path: ['mqtt', 'client_mode'], message: 'per_client needs an external broker (set mqtt.url)' });
  }
  if ((cfg.mqtt.embedded.username === '') !== (cfg.mqtt.embedded.password === '')) {
    ctx.addIssue({ code: 'custom', path: ['mqtt', 'embedded', cfg.mqtt.embedded.username === '' ? 'username' : 'password'], message: 'is required with mqtt.embedded.' + (cfg.mqtt.embedded.username === '' ? 'password' : 'username') });
  }
  const embedded = cfg.mqtt.embedded;
  if (cfg.mqtt.url === '' && embedded.username === '' && !embedded.allow_anonymous && !isLoopbackHost(embedded.host)) {
    // [SPEC §2] as Mosquitto 2: no anonymous listener beyond loopback unless said so explicitly.
    ctx.addIssue({ code: 'custom', path: ['mqtt', 'embedded', 'username'], message: `is required (with mqtt.embedded.password) when mqtt.embedded.host (${embedded.host}) is not a loopback address; or set mqtt.embedded.allow_anonymous: true to let any MQTT client in` });
  }
  if (cfg.auth.provider === 'broker' && cfg.mqtt.client_mode !== 'per_client') {
    ctx.addIssue({ code: 'custom', path: ['auth', 'provider'], message: 'broker requires mqtt.client_mode per_client (only then does the broker see the charge point\'s credentials)' });
  }
  for (const key of ['up', 'dn', 'event', 'status'] as const) {
    if (!cfg.topics[key].includes('${cpId}') && !cfg.topics[key].includes('${clientid}')) {
      ctx.addIssue({ code: 'custom', path: ['topics', key], message: 'must contain ${cpId}' });
    }
  }
}

export const configSchema = configShape.superRefine(crossKeyRules);

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type { Protocol };
