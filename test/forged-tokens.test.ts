import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { client, connectAs, refusal, SECRET, startServer, waitFor, type ClientOptions, type TestServer } from './helpers.ts'
import { b64url, hmac, hs256, nowSeconds, rs256, rsa, rsaPair, unsigned } from './forge.ts'

// Every forged token must be refused with the right `connect_error` code, and none may ever
// reach the namespace's `connection` event. Each server also admits one genuine token, so the
// refusals are known to come from the token and not from a broken set-up.

const AUDIENCE = 'agent-ui'
const ISSUER = 'https://auth.example'
const CLIENT_MESSAGES = new Set(['Authentication required', 'Invalid or expired token', 'Invalid token payload'])

interface Variant {
  name: string
  code: 'AUTH_REQUIRED' | 'AUTH_INVALID' | 'AUTH_EXPIRED' | 'AUTH_INVALID_PAYLOAD'
  /** What the client sends as `auth.token`. */
  token?: unknown
  /** Sent as `Authorization` instead. */
  authorization?: string
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: 'mallory', aud: AUDIENCE, iss: ISSUER, iat: nowSeconds(), exp: nowSeconds() + 3600, ...extra }
}

function withoutKey(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...record }
  delete copy[key]
  return copy
}

function captureLog(): { stream: Writable; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line.length > 0))
      done()
    },
  })
  return { stream, lines }
}

function countConnections(server: TestServer): { count: number } {
  const counter = { count: 0 }
  server.app.agentEvents.io.of('/').on('connection', () => counter.count++)
  return counter
}

async function attempt(t: Test, server: TestServer, variant: Variant): Promise<void> {
  const options: ClientOptions = {}
  if (variant.authorization !== undefined) options.extraHeaders = { authorization: variant.authorization }
  else if (variant.token !== undefined) options.auth = { token: variant.token }
  const error = await refusal(client(t, server, options))
  t.equal(error.data?.code, variant.code, `${variant.name}: ${variant.code}`)
  t.ok(CLIENT_MESSAGES.has(error.message), `${variant.name}: a fixed client message, no verifier text`)
}

t.test('HS256 server: forged, expired and malformed tokens are refused before connection', async (t) => {
  const log = captureLog()
  const server = await startServer(
    t,
    {
      auth: { verify: { algorithms: ['HS256'], allowedAud: AUDIENCE, allowedIss: ISSUER, requiredClaims: ['aud', 'iss'] } },
      rateLimit: { connection: { max: 1000, timeWindow: '1 minute' } },
    },
    { logger: { level: 'debug', stream: log.stream }, jwt: { secret: SECRET } },
  )
  const connections = countConnections(server)
  const attacker = rsaPair()
  const good = hs256(claims(), SECRET)
  const [goodHeader = '', goodPayload = '', goodSignature = ''] = good.split('.')
  const otherSignature = hs256(claims({ sub: 'someone-else' }), SECRET).split('.')[2] ?? ''
  const noneInput = unsigned({ alg: 'none', typ: 'JWT' }, claims())
  const hugeClaims = claims({ padding: 'x'.repeat(9000) })

  const variants: Variant[] = [
    { name: 'alg none without signature', token: `${noneInput}.`, code: 'AUTH_INVALID' },
    { name: 'alg none with a signature', token: `${noneInput}.${hmac(noneInput, SECRET)}`, code: 'AUTH_INVALID' },
    { name: 'alg None (capitalised)', token: `${unsigned({ alg: 'None' }, claims())}.`, code: 'AUTH_INVALID' },
    { name: 'alg nOnE', token: `${unsigned({ alg: 'nOnE' }, claims())}.`, code: 'AUTH_INVALID' },
    { name: 'no alg in the header', token: (() => { const i = unsigned({ typ: 'JWT' }, claims()); return `${i}.${hmac(i, SECRET)}` })(), code: 'AUTH_INVALID' },
    { name: 'wrong secret', token: hs256(claims(), 'not-the-secret-but-long-enough-anyway'), code: 'AUTH_INVALID' },
    { name: 'empty secret', token: hs256(claims(), ''), code: 'AUTH_INVALID' },
    { name: 'signature stripped', token: `${goodHeader}.${goodPayload}.`, code: 'AUTH_INVALID' },
    { name: 'signature of another token', token: `${goodHeader}.${goodPayload}.${otherSignature}`, code: 'AUTH_INVALID' },
    { name: 'payload swapped under a genuine signature', token: `${goodHeader}.${b64url(JSON.stringify(claims({ sub: 'admin' })))}.${goodSignature}`, code: 'AUTH_INVALID' },
    { name: 'HS512 with the right secret where only HS256 is allowed', token: (() => { const i = unsigned({ alg: 'HS512', typ: 'JWT' }, claims()); return `${i}.${hmac(i, SECRET, 512)}` })(), code: 'AUTH_INVALID' },
    { name: 'RS256 signed with an attacker key', token: rs256(claims(), attacker.privatePem), code: 'AUTH_INVALID' },
    { name: 'attacker key embedded as jwk', token: rs256(claims(), attacker.privatePem, { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }), code: 'AUTH_INVALID' },
    { name: 'jku pointing at an attacker', token: rs256(claims(), attacker.privatePem, { jku: 'https://evil.example/jwks.json' }), code: 'AUTH_INVALID' },
    { name: 'kid path traversal with a guessed key', token: hs256(claims(), '', { kid: '../../../../dev/null' }), code: 'AUTH_INVALID' },
    { name: 'expired a minute ago', token: hs256(claims({ exp: nowSeconds() - 60 }), SECRET), code: 'AUTH_EXPIRED' },
    { name: 'expired in 1970', token: hs256(claims({ iat: 0, exp: 1 }), SECRET), code: 'AUTH_EXPIRED' },
    { name: 'nbf an hour ahead', token: hs256(claims({ nbf: nowSeconds() + 3600 }), SECRET), code: 'AUTH_INVALID' },
    { name: 'missing exp', token: hs256(withoutKey(claims(), 'exp'), SECRET), code: 'AUTH_INVALID' },
    { name: 'exp as a string', token: hs256(claims({ exp: String(nowSeconds() + 3600) }), SECRET), code: 'AUTH_INVALID' },
    { name: 'exp null', token: hs256(claims({ exp: null }), SECRET), code: 'AUTH_INVALID' },
    { name: 'wrong audience', token: hs256(claims({ aud: 'billing' }), SECRET), code: 'AUTH_INVALID' },
    { name: 'missing audience (requiredClaims)', token: hs256(withoutKey(claims(), 'aud'), SECRET), code: 'AUTH_INVALID' },
    { name: 'wrong issuer', token: hs256(claims({ iss: 'https://evil.example' }), SECRET), code: 'AUTH_INVALID' },
    { name: 'issuer with a suffix', token: hs256(claims({ iss: `${ISSUER}.evil.example` }), SECRET), code: 'AUTH_INVALID' },
    { name: 'no sub', token: hs256(withoutKey(claims(), 'sub'), SECRET), code: 'AUTH_INVALID_PAYLOAD' },
    { name: 'empty sub', token: hs256(claims({ sub: '' }), SECRET), code: 'AUTH_INVALID_PAYLOAD' },
    { name: 'sub as an object', token: hs256(claims({ sub: { $ne: null } }), SECRET), code: 'AUTH_INVALID_PAYLOAD' },
    { name: 'payload a JSON array', token: (() => { const i = unsigned({ alg: 'HS256' }, ['sub', 'x']); return `${i}.${hmac(i, SECRET)}` })(), code: 'AUTH_INVALID' },
    { name: 'oversized but genuinely signed (over 8 KiB)', token: hs256(hugeClaims, SECRET), code: 'AUTH_INVALID' },
    { name: 'header not JSON', token: (() => { const i = `${b64url('{alg:HS256')}.${goodPayload}`; return `${i}.${hmac(i, SECRET)}` })(), code: 'AUTH_INVALID' },
    { name: 'payload not JSON', token: (() => { const i = `${goodHeader}.${b64url('sub=mallory')}`; return `${i}.${hmac(i, SECRET)}` })(), code: 'AUTH_INVALID' },
    { name: 'malformed base64', token: '!!!.@@@.###', code: 'AUTH_INVALID' },
    { name: 'base64 with padding and plus signs', token: `${Buffer.from('{"alg":"HS256"}').toString('base64')}+/=.${goodPayload}.${goodSignature}`, code: 'AUTH_INVALID' },
    { name: 'two segments', token: `${goodHeader}.${goodPayload}`, code: 'AUTH_INVALID' },
    { name: 'four segments', token: `${good}.${goodSignature}`, code: 'AUTH_INVALID' },
    { name: 'not a JWT at all', token: 'not-a-jwt', code: 'AUTH_INVALID' },
    { name: 'whitespace inside', token: `${goodHeader}. ${goodPayload}.${goodSignature}`, code: 'AUTH_INVALID' },
    { name: 'a number', token: 12345, code: 'AUTH_INVALID' },
    { name: 'an object', token: { token: good }, code: 'AUTH_INVALID' },
    { name: 'an array', token: [good], code: 'AUTH_INVALID' },
    { name: 'a boolean', token: true, code: 'AUTH_INVALID' },
    { name: 'an empty string', token: '', code: 'AUTH_REQUIRED' },
    { name: 'no token', code: 'AUTH_REQUIRED' },
    { name: 'alg none in the Authorization header', authorization: `Bearer ${noneInput}.`, code: 'AUTH_INVALID' },
    { name: 'expired token in the Authorization header', authorization: `Bearer ${hs256(claims({ exp: nowSeconds() - 5 }), SECRET)}`, code: 'AUTH_EXPIRED' },
    { name: 'Authorization scheme other than Bearer', authorization: `Basic ${b64url('mallory:secret')}`, code: 'AUTH_REQUIRED' },
  ]

  for (const variant of variants) await attempt(t, server, variant)
  t.equal(connections.count, 0, 'no forged token reached `connection`')
  t.equal(server.app.agentEvents.getConnectedCount(), 0)
  t.ok(log.lines.some((line) => line.includes('"reason":"TOO_LARGE"')), 'the oversized token was refused on its size, before decoding')

  // The control: the same server admits a genuine token.
  const genuine = client(t, server, { auth: { token: good } })
  genuine.connect()
  await waitFor(genuine, 'connect')
  t.equal(connections.count, 1, 'a genuine token connects')
  t.comment(`HS256 corpus: ${variants.length} variants`)
  t.ok(variants.length >= 30)
})

t.test('RS256 server: HS/RS key confusion and foreign keys are refused', async (t) => {
  const keys = rsaPair()
  const attacker = rsaPair()
  const server = await startServer(
    t,
    { auth: { verify: { allowedAud: AUDIENCE, allowedIss: ISSUER } } },
    { jwt: { secret: { private: keys.privatePem, public: keys.publicPem }, sign: { algorithm: 'RS256' } } },
  )
  const connections = countConnections(server)
  const good = rs256(claims(), keys.privatePem)
  const [goodHeader = '', goodPayload = '', goodSignature = ''] = good.split('.')
  const hsInput = unsigned({ alg: 'HS256', typ: 'JWT' }, claims())
  const variants: Variant[] = [
    { name: 'HS256 signed with the RS public key as HMAC secret', token: `${hsInput}.${hmac(hsInput, keys.publicPem)}`, code: 'AUTH_INVALID' },
    { name: 'HS256 signed with the public key without its newline', token: `${hsInput}.${hmac(hsInput, keys.publicPem.trim())}`, code: 'AUTH_INVALID' },
    { name: 'alg none', token: `${unsigned({ alg: 'none' }, claims())}.`, code: 'AUTH_INVALID' },
    { name: 'RS256 signed with another key', token: rs256(claims(), attacker.privatePem), code: 'AUTH_INVALID' },
    { name: 'payload swapped under a genuine signature', token: `${goodHeader}.${b64url(JSON.stringify(claims({ sub: 'admin' })))}.${goodSignature}`, code: 'AUTH_INVALID' },
    { name: 'expired RS256', token: rs256(claims({ exp: nowSeconds() - 10 }), keys.privatePem), code: 'AUTH_EXPIRED' },
    { name: 'header claims RS512 over an RS256 signature', token: (() => { const i = unsigned({ alg: 'RS512' }, claims()); return `${i}.${rsa(i, keys.privatePem, 256)}` })(), code: 'AUTH_INVALID' },
    { name: 'RS256 without exp', token: rs256(withoutKey(claims(), 'exp'), keys.privatePem), code: 'AUTH_INVALID' },
  ]
  for (const variant of variants) await attempt(t, server, variant)
  t.equal(connections.count, 0, 'no forged token reached `connection`')
  t.equal(goodPayload.length > 0, true)

  const genuine = client(t, server, { auth: { token: good } })
  genuine.connect()
  await waitFor(genuine, 'connect')
  t.equal(connections.count, 1, 'a genuine RS256 token connects')
  t.comment(`RS256 corpus: ${variants.length} variants`)
})

t.test('the socket and the REST routes judge a token alike, with the same @fastify/jwt', async (t) => {
  const server = await startServer(t, {}, {
    before: (app) => {
      app.get('/me', { onRequest: [async (req) => req.jwtVerify()] }, async (req) => req.user)
    },
  })
  const genuine = server.token('alice')
  const forged = hs256({ sub: 'alice', exp: nowSeconds() + 60 }, 'not-the-secret-but-long-enough-anyway')
  const rest = async (token: string): Promise<number> =>
    (await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${token}` } })).status
  t.equal(await rest(genuine), 200, 'REST admits the genuine token')
  t.ok((await connectAs(t, server, 'alice', { auth: { token: genuine } })).connected, 'so does the socket')
  t.equal(await rest(forged), 401, 'REST refuses the forged one')
  t.equal((await refusal(client(t, server, { auth: { token: forged } }))).data?.code, 'AUTH_INVALID', 'so does the socket')
})
