import type { IncomingMessage } from 'node:http'
import proxyAddr from '@fastify/proxy-addr'

/** The client's address and the chain it came through, as Fastify's `request.ip` / `request.ips` give them. */
export interface ClientAddress {
  ip: string
  /** Only with a `trustProxy`, as in Fastify (where `request.ips` is otherwise undefined). */
  ips: string[] | undefined
}

export type ClientAddressResolver = (req: IncomingMessage) => ClientAddress

/**
 * Fastify's `trustProxy` forms, which the plugin's own `trustProxy` option takes too (typed as
 * Fastify types it: a number, which Fastify takes but trusts nothing with, is left out).
 */
export type TrustProxy = boolean | string | string[] | ((address: string, hop: number) => boolean)

/** Whether the proxy at `address`, `hop` steps from the server, is trusted. */
export type TrustFunction = (address: string, hop: number) => boolean

/**
 * Fastify's own rule (lib/request.js, `getTrustProxyFn`), with the library it uses for it. A
 * number trusts no proxy: a hop count cannot tell a proxy from a client that sends
 * `X-Forwarded-For` itself. Returns `undefined` where nothing is trusted (`false`, `0`, `''`, not
 * given), as Fastify then reads the peer address alone. Throws on an invalid address or range.
 */
export function compileTrustProxy(trustProxy: TrustProxy | number | undefined): TrustFunction | undefined {
  if (trustProxy === undefined || trustProxy === false || trustProxy === 0 || trustProxy === '') return undefined
  if (typeof trustProxy === 'function') return trustProxy
  if (trustProxy === true) return () => true
  if (typeof trustProxy === 'number') return () => false
  if (typeof trustProxy === 'string') return proxyAddr.compile(trustProxy.split(',').map((entry) => entry.trim()))
  return proxyAddr.compile(trustProxy)
}

/**
 * Socket.IO handshakes never pass through Fastify's router, so there is no `request.ip` to read;
 * and Fastify does not expose its `trustProxy` (`fastify.initialConfig` leaves it out). With the
 * same `trustProxy` given to the plugin, a handshake's address is exactly the `request.ip` and
 * `request.ips` that the app's REST routes see.
 */
export function createClientAddressResolver(trust: TrustFunction | undefined): ClientAddressResolver {
  if (trust === undefined) return (req) => ({ ip: req.socket.remoteAddress ?? '', ips: undefined })
  return (req) => {
    const ips = proxyAddr.all(req, trust)
    return { ip: ips.at(-1) ?? '', ips }
  }
}
