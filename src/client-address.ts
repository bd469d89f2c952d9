import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'

/** The client's address and the chain it came through, as Fastify's `request.ip` / `request.ips` give them. */
export interface ClientAddress {
  ip: string
  ips: string[]
}

export type ClientAddressResolver = (req: IncomingMessage) => ClientAddress

/**
 * Socket.IO handshakes never pass through Fastify's router, so there is no `request.ip` to read.
 * Fastify builds its request class with the app's `trustProxy` compiled into the `ip` and `ips`
 * getters; running those getters on the handshake's raw request keys the handshake limit on
 * exactly the address that the app's REST routes see, with the same proxy rules.
 *
 * Returns `undefined` when this Fastify does not expose its request class the way Fastify 5 does.
 */
export function createClientAddressResolver(fastify: FastifyInstance): ClientAddressResolver | undefined {
  const requestClass = findRequestClass(fastify)
  if (requestClass === undefined) return undefined
  const prototype = requestClass.prototype as object
  return (req) => {
    // The getters read `this.raw` (with trustProxy) or `this.socket` (without).
    const receiver = { raw: req, socket: req.socket, headers: req.headers }
    const ip = Reflect.get(prototype, 'ip', receiver) as unknown
    const ips = Reflect.get(prototype, 'ips', receiver) as unknown
    const address = typeof ip === 'string' ? ip : (req.socket.remoteAddress ?? '')
    return { ip: address, ips: Array.isArray(ips) ? (ips as string[]) : [address] }
  }
}

/** Fastify keeps its request class under a private symbol, inherited by encapsulated contexts. */
function findRequestClass(fastify: FastifyInstance): { prototype: unknown } | undefined {
  for (let scope: object | null = fastify; scope !== null; scope = Object.getPrototypeOf(scope) as object | null) {
    const symbol = Object.getOwnPropertySymbols(scope).find((candidate) => candidate.description === 'fastify.Request')
    if (symbol === undefined) continue
    const value = (scope as Record<symbol, unknown>)[symbol]
    return typeof value === 'function' ? (value as { prototype: unknown }) : undefined
  }
  return undefined
}
