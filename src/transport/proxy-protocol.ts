// PROXY protocol v1 (text) and v2 (binary) headers, as sent by HAProxy, AWS NLB, nginx and others in
// front of the gateway. Pure: bytes in, result out. [HAProxy PROXY protocol spec, v1 §2.1, v2 §2.2]

export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
const V1_MAX = 107; // including CRLF
/** Largest v2 header accepted (16 fixed bytes + addresses + TLVs). */
export const V2_MAX = 16 + 2048;

export type ProxyHeader =
  | { state: 'incomplete' }
  | { state: 'invalid'; detail: string }
  /** source undefined: LOCAL or UNKNOWN (a health check by the proxy itself): use the socket's address. */
  | { state: 'done'; consumed: number; source: { address: string; port: number } | undefined };

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n');
  if (end === -1) return buf.length >= V1_MAX ? { state: 'invalid', detail: 'PROXY v1 header longer than 107 bytes' } : { state: 'incomplete' };
  if (end + 2 > V1_MAX) return { state: 'invalid', detail: 'PROXY v1 header longer than 107 bytes' };
  const parts = buf.subarray(0, end).toString('latin1').split(' ');
  if (parts[1] === 'UNKNOWN') return { state: 'done', consumed: end + 2, source: undefined };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return { state: 'invalid', detail: 'PROXY v1 header is not "PROXY TCP4|TCP6 src dst sport dport"' };
  const address = parts[2] as string;
  const port = Number(parts[4]);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  const okAddress = parts[1] === 'TCP4' ? v4 !== null && v4.slice(1).every((o) => Number(o) <= 255) : /^[0-9a-fA-F:.]{2,45}$/.test(address) && address.includes(':');
  if (!okAddress || !/^\d{1,5}$/.test(parts[4] ?? '') || port > 65535) return { state: 'invalid', detail: 'PROXY v1 header has a bad source address or port' };
  return { state: 'done', consumed: end + 2, source: { address, port } };
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return { state: 'incomplete' };
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return { state: 'invalid', detail: 'PROXY v2 header with a version other than 2' };
  const length = buf.readUInt16BE(14);
  if (16 + length > V2_MAX) return { state: 'invalid', detail: 'PROXY v2 header too long' };
  if (buf.length < 16 + length) return { state: 'incomplete' };
  const consumed = 16 + length;
  const command = verCmd & 0x0f;
  if (command === 0) return { state: 'done', consumed, source: undefined }; // LOCAL
  if (command !== 1) return { state: 'invalid', detail: 'PROXY v2 header with an unknown command' };
  const family = (buf[13] as number) >> 4;
  const body = buf.subarray(16, consumed);
  if (family === 1 && body.length >= 12) return { state: 'done', consumed, source: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) } };
  if (family === 2 && body.length >= 36) return { state: 'done', consumed, source: { address: ipv6(body.subarray(0, 16)), port: body.readUInt16BE(32) } };
  if (family === 0 || family === 3) return { state: 'done', consumed, source: undefined }; // UNSPEC, UNIX
  return { state: 'invalid', detail: 'PROXY v2 header with a bad address block' };
}

/** Reads a PROXY v1 or v2 header from the first bytes of a connection. */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  const sig = Math.min(buf.length, PROXY_V2_SIGNATURE.length);
  if (buf.subarray(0, sig).equals(PROXY_V2_SIGNATURE.subarray(0, sig))) return sig < PROXY_V2_SIGNATURE.length ? { state: 'incomplete' } : parseV2(buf);
  const pre = Math.min(buf.length, V1_PREFIX.length);
  if (buf.subarray(0, pre).equals(V1_PREFIX.subarray(0, pre))) return pre < V1_PREFIX.length ? { state: 'incomplete' } : parseV1(buf);
  return { state: 'invalid', detail: 'the connection does not start with a PROXY protocol header' };
}
