import type { FastifyJWTOptions } from '@fastify/jwt'
import t, { type Test } from 'tap'
import type { AgentEventsUser } from '../src/index.ts'
import { connectAs, refusal, client, request, startServer, type TestServer } from './helpers.ts'

// An app that renames and trims claims for its routes, as @fastify/jwt's README shows.
const formatUser = (payload: unknown): AgentEventsUser => {
  const claims = payload as { sub: string; department_name: string; roles?: string[] }
  return { id: claims.sub, departmentName: claims.department_name, roles: claims.roles ?? [] }
}

/** `request.user` of a REST route that authenticates the usual way, for the same token. */
async function restUser(server: TestServer, token: string): Promise<unknown> {
  const response = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${token}` } })
  return response.json()
}

async function startWithFormatUser(t: Test, seen: unknown[]): Promise<TestServer> {
  return startServer(
    t,
    {
      auth: { formatUser },
      authorize: ({ user }) => {
        seen.push(user)
        return true
      },
    },
    {
      jwt: { formatUser } as Partial<FastifyJWTOptions>,
      before: (app) => {
        app.get('/me', { onRequest: (request) => request.jwtVerify() }, async (request) => request.user)
      },
    },
  )
}

t.test('authorize sees what request.user is on a REST route for the same token (formatUser applied)', async (t) => {
  const seen: unknown[] = []
  const server = await startWithFormatUser(t, seen)
  const token = server.token('alice', { department_name: 'research', roles: ['reader'] })
  const socket = await connectAs(t, server, 'alice', { auth: { token } })
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf' }), { ok: true })
  const rest = await restUser(server, token)
  t.same(rest, { id: 'alice', departmentName: 'research', roles: ['reader'] }, 'the route sees the formatted user')
  t.same(seen, [rest], 'and so does authorize')
  t.equal(server.app.agentEvents.getUserId(socket.id as string), 'alice', 'the user id is still read from the token\'s claim')
})

t.test('auth:refresh keeps the user as routes see it for the new token', async (t) => {
  const seen: unknown[] = []
  const server = await startWithFormatUser(t, seen)
  const socket = await connectAs(t, server, 'alice', { auth: { token: server.token('alice', { department_name: 'research' }) } })
  const newer = server.token('alice', { department_name: 'sales', roles: ['writer'] })
  t.match(await request(socket, 'auth:refresh', { token: newer }), { ok: true })
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf' }), { ok: true })
  t.same(seen, [await restUser(server, newer)], 'authorize sees the refreshed, formatted user')
})

t.test('a formatUser that throws refuses the handshake; auth.formatUser must be a function', async (t) => {
  const server = await startServer(t, { auth: { formatUser: () => { throw new Error('no department') } } })
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') } }))
  t.same(error.data, { code: 'AUTH_INVALID_PAYLOAD' })
  await t.rejects(startServer(t, { auth: { formatUser: 'yes' as never } }), {
    code: 'FST_AGENT_EVENTS_INVALID_OPTION',
    message: /auth\.formatUser/,
  })
})

t.test('without formatUser, authorize sees the verified payload, as routes do', async (t) => {
  const seen: unknown[] = []
  const server = await startServer(
    t,
    { authorize: ({ user }) => (seen.push(user), true) },
    { before: (app) => void app.get('/me', { onRequest: (request) => request.jwtVerify() }, async (request) => request.user) },
  )
  const token = server.token('bob', { plan: 'pro' })
  const socket = await connectAs(t, server, 'bob', { auth: { token } })
  await request(socket, 'agent:subscribe', { workflowId: 'wf' })
  t.same(seen, [await restUser(server, token)])
})
