// The container's HEALTHCHECK: GET /readyz on the gateway's HTTP API from inside the container (the API
// binds 127.0.0.1 unless configured otherwise, so a check from outside would not reach it). Exit 0 when
// the gateway is ready (200), 1 otherwise (503 while the broker is unreachable, no answer, no process).
// The API's address comes from the same variables the gateway reads, OCPP_GW_API__HOST and
// OCPP_GW_API__PORT; an API moved in the config file only must be moved here too (docs/deploy.md).
const host = process.env.OCPP_GW_API__HOST ?? '';
const port = process.env.OCPP_GW_API__PORT || '18083';
// A wildcard bind is reached on loopback; an IPv6 literal needs brackets in a URL.
const target = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
const url = `http://${target}:${port}/readyz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (res.status === 200) process.exit(0);
  process.stderr.write(`healthcheck: ${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}\n`);
} catch (err) {
  process.stderr.write(`healthcheck: ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
}
process.exit(1);
