import type { ResolvedOptions } from './options.ts'
import type { RequestCheck } from './socket-server.ts'

/**
 * The Origin allow-list, checked in `allowRequest`, so it holds for polling and for websocket
 * handshakes alike (browsers send cross-site WebSocket upgrades without any CORS preflight).
 *
 * - No `Origin` header: not a browser (a server-side client); the token alone decides.
 * - `cors.origin` given: the Origin must equal one of its entries exactly, so
 *   `https://app.example.com.evil.com` or another port or scheme never passes.
 * - Otherwise same-origin only: the Origin's host (with its port) must equal the `Host` header.
 */
export function originCheck(cors: ResolvedOptions['cors']): RequestCheck {
  const origin = cors?.origin
  const allowList = origin === undefined ? undefined : new Set(typeof origin === 'string' ? [origin] : origin)
  return (req) => {
    const header = req.headers.origin
    if (header === undefined) return true
    if (allowList !== undefined) return allowList.has(header)
    return isSameOrigin(header, req.headers.host)
  }
}

function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || host.length === 0) return false
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    // `null` (sandboxed frames, file: pages) and anything unparsable.
    return false
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin) return false
  try {
    // Read the Host header under the Origin's scheme so that default ports compare equal.
    return new URL(`${parsed.protocol}//${host}`).host === parsed.host
  } catch {
    return false
  }
}
