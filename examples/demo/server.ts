// `npm run demo`: the demo on http://127.0.0.1:3000 (PORT overrides it; PORT=0 takes any free
// port). No Redis needed: the replay buffer lives in memory.
import { randomBytes } from 'node:crypto'
import { buildDemoApp } from './app.ts'

const port = parsePort(process.env.PORT)
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

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    process.stderr.write(`PORT must be an integer from 0 to 65535, not ${JSON.stringify(value)}\n`)
    process.exit(1)
  }
  return parsed
}
