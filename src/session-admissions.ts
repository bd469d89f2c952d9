import type { IncomingMessage } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'
import type { ClientAddress, ClientAddressResolver } from './client-address.ts'
import type { RateLimitVerdict } from './rate-limits.ts'
import type { EngineSession, SessionGate } from './socket-server.ts'

/**
 * A session opened over the limit lives only to tell a Socket.IO client why (its CONNECT gets
 * `RATE_LIMITED`); one that sends no CONNECT within this time (or `connectTimeout`, if shorter)
 * is closed. A client sends its CONNECT as soon as the session opens, one round trip later.
 */
export const REFUSAL_GRACE_MS = 2000
/**
 * Sessions of one address that may be open over the limit at once, waiting to deliver their
 * refusal. Beyond this, a flood's handshakes are refused at the HTTP level (403), so that it costs
 * nothing lasting however fast it comes.
 */
export const MAX_REFUSALS_PER_ADDRESS = 8

/** The connection limit's verdict on one engine.io session, kept on its handshake request. */
interface Admission {
  /** Read at the handshake: a polling session's first request may have lost its TCP socket since. */
  address: ClientAddress
  verdict: RateLimitVerdict
  judgedAt: number
  /** The session's first namespace CONNECT was judged by this verdict; later ones are counted anew. */
  spent: boolean
  /** Over the limit: the place this session holds among its address's pending refusals. */
  refusal?: { release: () => void; opened: boolean }
}

export interface SessionAdmissions {
  /** For the Socket.IO server: counts every engine.io session at its HTTP handshake. */
  gate: SessionGate
  /**
   * The verdict on the session of a namespace CONNECT, for its first CONNECT only (with
   * `retryAfterMs` counted from now); `undefined` for later ones and for sessions judged elsewhere.
   */
  firstConnect(req: IncomingMessage): RateLimitVerdict | undefined
  /** The client address read at the session's handshake, or now for a session judged elsewhere. */
  addressOf(req: IncomingMessage): ClientAddress
}

export function createSessionAdmissions(options: {
  judge: (req: IncomingMessage, address: ClientAddress) => Promise<RateLimitVerdict>
  addressOf: ClientAddressResolver
  connectTimeoutMs: number
  log: FastifyBaseLogger
}): SessionAdmissions {
  const { judge, addressOf, log } = options
  const graceMs = Math.min(REFUSAL_GRACE_MS, options.connectTimeoutMs)
  // Keyed by the handshake request, which engine.io keeps as the session's `request`: it goes
  // away with the session.
  const admissions = new WeakMap<IncomingMessage, Admission>()
  // Sessions over the limit that are open or about to open, per rate-limit key. Counted at
  // admission, not when the session opens, so that a burst of concurrent handshakes cannot slip
  // past the bound; a handshake that never became a session gives its place back at its deadline.
  const pendingRefusals = new Map<string, number>()

  function holdRefusal(key: string): () => void {
    pendingRefusals.set(key, (pendingRefusals.get(key) ?? 0) + 1)
    let held = true
    return () => {
      if (!held) return
      held = false
      const pending = (pendingRefusals.get(key) ?? 1) - 1
      if (pending > 0) pendingRefusals.set(key, pending)
      else pendingRefusals.delete(key)
    }
  }

  const gate: SessionGate = {
    async admit(raw) {
      const address = addressOf(raw)
      const verdict = await judge(raw, address)
      const admission: Admission = { address, verdict, judgedAt: Date.now(), spent: false }
      if (!verdict.ok) {
        const key = normalizeIP(address.ip)
        if ((pendingRefusals.get(key) ?? 0) >= MAX_REFUSALS_PER_ADDRESS) {
          log.debug({ ip: address.ip }, 'engine.io handshake refused: rate limited, refusals already pending')
          return false
        }
        const release = holdRefusal(key)
        admission.refusal = { release, opened: false }
        setTimeout(() => admission.refusal?.opened === false && release(), graceMs).unref()
      }
      admissions.set(raw, admission)
      return true
    },
    opened(session) {
      const admission = admissions.get(session.request)
      const refusal = admission?.refusal
      if (admission === undefined || refusal === undefined) return
      refusal.opened = true
      // Discarding: a session over the limit is owed nothing more than what it got in time.
      const timer = setTimeout(() => session.close(true), Math.max(0, admission.judgedAt + graceMs - Date.now()))
      session.once('close', () => {
        clearTimeout(timer)
        refusal.release()
      })
    },
  }

  return {
    gate,
    firstConnect(req) {
      const admission = admissions.get(req)
      if (admission === undefined || admission.spent) return undefined
      admission.spent = true
      const { verdict } = admission
      return verdict.ok ? verdict : { ok: false, retryAfterMs: verdict.retryAfterMs - (Date.now() - admission.judgedAt) }
    },
    addressOf: (req) => admissions.get(req)?.address ?? addressOf(req),
  }
}

/**
 * Close a session whose CONNECT is being refused over the limit, as soon as the refusal has been
 * handed to its transport (Socket.IO writes it on the next tick; a polling client takes it with
 * its next poll). Discarding then, rather than an orderly close, which on polling would hold the
 * session for engine.io's 30 s close timeout when no poll is pending. Call it before refusing.
 */
export function closeAfterRefusal(session: EngineSession): void {
  const onPacket = (packet: { type: string }): void => {
    if (packet.type !== 'message') return
    session.off('packetCreate', onPacket)
    session.once('drain', () => session.close(true))
  }
  session.on('packetCreate', onPacket)
}
