import type { FastifyInstance } from 'fastify'
import type { Socket } from 'socket.io'
import { InvalidOptionError } from './errors.ts'
import type { TokenSource } from './options.ts'

type Handshake = Socket['handshake']
type CookieParser = (header: string) => Record<string, string | undefined>

export interface TokenExtractor {
  /** The raw token of a handshake, or `undefined` when none of the sources holds one. Query strings are never read. */
  (handshake: Handshake): unknown
}

/** Build the reader for the configured sources once, at registration. */
export function createTokenExtractor(fastify: FastifyInstance, sources: readonly TokenSource[]): TokenExtractor {
  const readers = sources.map((source) => {
    switch (source) {
      case 'auth':
        return (handshake: Handshake): unknown => (handshake.auth as Record<string, unknown> | undefined)?.token
      case 'header':
        return (handshake: Handshake): unknown => {
          const header = handshake.headers.authorization
          if (typeof header !== 'string') return undefined
          const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
          return match?.[1]
        }
      case 'cookie':
        return cookieReader(fastify)
    }
  })
  return (handshake) => {
    for (const read of readers) {
      const token = read(handshake)
      if (token !== undefined && token !== null && token !== '') return token
    }
    return undefined
  }
}

function cookieReader(fastify: FastifyInstance): (handshake: Handshake) => unknown {
  const parseCookie = (fastify as unknown as { parseCookie?: CookieParser }).parseCookie
  const cookieName = (fastify.jwt as unknown as { cookie?: { cookieName?: string } }).cookie?.cookieName
  if (typeof parseCookie !== 'function' || typeof cookieName !== 'string') {
    throw new InvalidOptionError('auth.tokenFrom', '"cookie" needs @fastify/cookie registered and @fastify/jwt\'s cookie option set')
  }
  return (handshake) => {
    const header = handshake.headers.cookie
    return typeof header === 'string' ? parseCookie(header)[cookieName] : undefined
  }
}
