// `npm run demo`: the demo on http://127.0.0.1:3000 (PORT overrides it; PORT=0 takes any free
// port). No Redis needed: the replay buffer lives in memory.
import { randomBytes } from 'node:crypto'
import { EXAMPLE_PORTS, listenPort } from '../port.ts'
import { buildDemoApp } from './app.ts'

const port = listenPort(EXAMPLE_PORTS.demo)
const app = await buildDemoApp({
  // A fresh secret per start: demo tokens need not survive a restart.
  secret: process.env.JWT_SECRET ?? randomBytes(32).toString('hex'),
  logger: { level: process.env.LOG_LEVEL ?? 'warn' },
})
const address = await app.listen({ port, host: '127.0.0.1' })
process.stdout.write(`fastify-agent-events demo: ${address}/  (API docs: ${address}/docs)\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0), () => process.exit(1))
  })
}
