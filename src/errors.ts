// The error registry: every way the gateway refuses, drops or ends something, with its stable id and
// what the outside world sees. docs/errors.md lists the same ids; test/errors.test.ts keeps them in sync.

/** Gateway-originated errors about a service's message, published on .../up/error/{action}/{messageId}
 *  with errorDetails.gateway.reason. [SPEC §4] */
export const GATEWAY_ERRORS = {
  timeout: 'No answer within the time allowed (upstream.awaiting_timeout for a charge point CALL; dnstream.retry_interval x (1 + max_retries) for a service CALL).',
  queue_full: 'The charge point already has dnstream.max_mqueue_len CALLs waiting behind the one in flight.',
  invalid_payload: 'The service\'s message is not valid JSON of the expected shape, or fails the schema of its action (errorCode = the validation code; details: keyword, path, reason).',
  invalid_response: 'The charge point\'s CALLRESULT failed the schema of the action; the payload is in errorDetails.gateway.payload.',
  invalid_message_id: 'The messageId is empty or longer than 36 characters.',
  unknown_message_id: 'A response or error for no pending CALL (already answered, timed out, or never sent).',
  not_connected: 'The charge point disconnected before the message could be sent.',
  disconnected: 'The charge point disconnected while the CALL was queued or in flight.',
  duplicate_message_id: 'A CALL with this messageId is already queued or in flight to this charge point.',
  broker_unavailable: 'The charge point\'s CALL could not be published to the broker; the charge point got a CALLERROR.',
  unsupported_type: 'The topic\'s {type} is not one the charge point\'s protocol has (e.g. send on OCPP 1.6).',
} as const;
export type GatewayErrorReason = keyof typeof GATEWAY_ERRORS;

/**
 * Why a connection ended: the disconnected event's reason, and the WebSocket close code the gateway sends.
 * no_subprotocol ends a connection that never started: no event/disconnected, an event/rejected instead.
 */
export const CLOSE_REASONS = {
  closed_by_cp: { code: null, doc: 'The charge point closed the connection or the socket failed (event code = the code it sent, or 1006).' },
  replaced: { code: 1000, doc: 'A newer authenticated connection with the same cpId took over.' },
  kicked: { code: 1000, doc: 'An operator kicked the charge point through the API.' },
  keepalive_timeout: { code: 1000, doc: 'No frame or pong within the keepalive timeout.' },
  too_many_bad_messages: { code: 1008, doc: 'More than ocpp.max_bad_messages malformed frames within ocpp.bad_messages_window.' },
  slow_consumer: { code: 1008, doc: 'More than ocpp.max_outbound_buffer bytes waiting to be written to the charge point.' },
  frame_too_large: { code: 1009, doc: 'A message larger than ocpp.max_frame_size.' },
  binary_frame: { code: 1003, doc: 'A binary WebSocket message; OCPP-J is text only.' },
  invalid_utf8: { code: 1007, doc: 'A text message that is not valid UTF-8.' },
  shutdown: { code: 1001, doc: 'The gateway is shutting down (SIGTERM/SIGINT).' },
  expired: { code: 1000, doc: 'The authorization granted by the auth service (expire_at) ran out.' },
  internal_error: { code: 1011, doc: 'An exception while handling this charge point\'s input (a frame, a service message, a timer, a publish outcome): this connection is closed, logged once as cp.internal_error with the stack, and counted; the gateway and every other connection go on.' },
  broker_disconnected: { code: 1013, doc: 'mqtt.client_mode per_client: the broker ended this charge point\'s own link (outage, or over MQTT 3.1.1 possibly a takeover by another instance); the charge point should reconnect (1013 = try again later).' },
  no_subprotocol: { code: 1002, doc: 'No offered subprotocol is in ocpp.protocols and no ocpp.default_protocol is set: after authentication the handshake completes without Sec-WebSocket-Protocol and the connection is closed at once [OCPP-J 1.6 §3, 2.0.1 §3.1]; reported as event/rejected, counted with the upgrade refusals.' },
} as const;
export type CloseReason = keyof typeof CLOSE_REASONS;

/** Refusals at the WebSocket upgrade, before 101. [SPEC §3] */
export const UPGRADE_REFUSALS = {
  path_not_found: { status: 404, doc: 'The path is not under ocpp.path.' },
  bad_cp_id: { status: 400, doc: 'The cpId is empty, too long, badly percent-encoded (or not UTF-8), is . or .., or contains / or #, a control character (C0 incl. NUL, DEL, C1), a Unicode non-character or a lone surrogate. + is allowed (percent-encoded in topics).' },
  unauthorized: { status: 401, doc: 'Missing or wrong HTTP Basic credentials, or the auth service denied (or did not answer in time); in mqtt.client_mode per_client also the broker refusing the charge point\'s CONNECT (bad user name or password, not authorized, identifier rejected) or its downstream subscription.' },
  credentials_required: { status: 401, doc: 'The listener\'s security profile (1 or 2) requires HTTP Basic credentials and none were sent.' },
  certificate_required: { status: 401, doc: 'A security profile 3 listener and no client certificate.' },
  certificate_invalid: { status: 401, doc: 'The client certificate does not verify against ocpp.tls.ca_file (unknown CA, expired, not yet valid).' },
  certificate_cn_mismatch: { status: 403, doc: 'The client certificate\'s CN is not the cpId (ocpp.tls.cn_must_match).' },
  origin_not_allowed: { status: 403, doc: 'The upgrade carries an Origin header (a browser) not in ocpp.allowed_origins; the embedded broker\'s MQTT over WebSocket refuses the same way against mqtt.embedded.allowed_origins.' },
  address_rate_limited: { status: 429, doc: 'More upgrade attempts from one source address (IPv6: one /64) than ocpp.max_connect_rate_per_address (with ocpp.connect_burst_per_address) allows; checked before the global rate, which such an attempt does not spend.' },
  rate_limited: { status: 429, doc: 'More upgrade attempts than ocpp.max_connect_rate (with ocpp.connect_burst) allows.' },
  too_many_from_address: { status: 429, doc: 'ocpp.max_connections_per_address connections from this address already.' },
  auth_throttled: { status: 429, doc: 'auth.failure_limit failed credential checks from this address (an IPv6 /64) within auth.failure_window: further attempts are refused without checking, for a backoff from auth.failure_backoff doubling up to auth.failure_backoff_max. A charge point whose password was verified before is still admitted.' },
  auth_busy: { status: 503, doc: 'auth.max_checks_queued credential checks are already waiting (checks are served round-robin per address; a newcomer from a less busy address takes the place of the busiest address\'s oldest check, which gets this refusal).' },
  too_many_connections: { status: 503, doc: 'ocpp.max_connections charge points are already connected.' },
  shutting_down: { status: 503, doc: 'The gateway is shutting down.' },
  not_ready: { status: 503, doc: 'The broker is not reachable (per_client: the charge point\'s own link got no CONNACK/SUBACK within mqtt.per_client.connect_timeout, or the broker is unavailable); the charge point should retry later.' },
  handshake_timeout: { status: 408, doc: 'The upgrade (including authentication) did not finish within ocpp.handshake_timeout.' },
} as const;
export type UpgradeRefusal = keyof typeof UPGRADE_REFUSALS;

/** Refusals of the HTTP API, before authentication and routing. [SPEC §8] */
export const API_REFUSALS = {
  host_not_allowed: { status: 421, doc: 'The Host header names neither an IP literal, localhost, api.host nor an entry of api.allowed_hosts (DNS rebinding: a foreign page calling the API under its own name).' },
  cross_origin: { status: 403, doc: 'A browser request whose Origin is another site (not the API\'s own origin, loopback, api.host or api.allowed_hosts): a page the operator visits posting a form or a no-cors fetch to the API.' },
} as const;
export type ApiRefusal = keyof typeof API_REFUSALS;

/** Connections dropped before any HTTP exchange (no status can be sent). Logged and counted. */
export const CONNECTION_DROPS = {
  bad_proxy_header: 'ocpp.proxy_protocol is on and the connection did not start with a valid PROXY v1/v2 header in time.',
  untrusted_proxy: 'ocpp.proxy_protocol is on and the connection came from an address not in ocpp.trusted_proxies.',
} as const;
export type ConnectionDrop = keyof typeof CONNECTION_DROPS;

/** Messages the gateway refused or dropped, published as event/rejected (the frame's sender is the CP). */
export const REJECTED_REASONS = {
  malformed_frame: 'The frame is not OCPP-J, or nests deeper than ocpp.max_json_depth; a CALLERROR was sent back unless the frame was itself a CALLRESULT/CALLERROR/CALLRESULTERROR. Counts toward ocpp.max_bad_messages.',
  unknown_message_id: 'A CALLRESULT/CALLERROR from the charge point for no pending downstream CALL (or a 2.1 CALLRESULTERROR about no recent CALLRESULT). Counts toward ocpp.max_bad_messages.',
  duplicate_call: 'A CALL with the messageId of the charge point\'s pending CALL (a retransmission); not published twice.',
  validation_failed: 'A CALL whose payload fails the schema of its action (or an unknown action); a CALLERROR with the validation code was sent back.',
  concurrent_call: 'A second CALL while one is pending, with upstream.concurrent_calls = reject; a CALLERROR was sent back.',
  suppressed: 'Summary, once per ocpp.rejected_events_window: the charge point caused more than ocpp.max_rejected_events rejections; the rest were counted but not published. Body: count, and byReason {reason: count}.',
} as const;
export type RejectedReason = keyof typeof REJECTED_REASONS;

/**
 * The gateway cannot start as configured (a port taken, a file unreadable, a bad setting found late):
 * the CLI prints its message, one problem a line, and exits 1. [SPEC §2]
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Thrown by an upgrade pipeline step: the upgrade is answered with the refusal's status. [SPEC §3] */
export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  constructor(readonly refusal: UpgradeRefusal, readonly detail: string, readonly cpId?: string) {
    super(detail);
  }
}
