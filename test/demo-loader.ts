import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { tsImport } from 'tsx/esm/api'
import type { DemoOptions } from '../examples/demo/app.ts'

type DemoModule = typeof import('../examples/demo/app.ts')

/**
 * The demo imports `fastify-agent-events` by name, as an app would; tsconfig's `paths` map that
 * name to src/. tsx honours `paths` and the test runner's loader does not, so the demo is loaded
 * through tsx.
 */
export async function loadDemo(): Promise<DemoModule> {
  return (await tsImport('../examples/demo/app.ts', import.meta.url)) as DemoModule
}

export interface RunningDemo {
  app: FastifyInstance
  url: string
}

/**
 * The demo app on 127.0.0.1, closed when the test ends: on `port`, or any free port. Started again
 * on the port of one that was closed, it is that server restarted (same secret, nothing remembered).
 */
export async function startDemo(t: Test, options: Partial<DemoOptions> = {}, port = 0): Promise<RunningDemo> {
  const { buildDemoApp } = await loadDemo()
  const app = await buildDemoApp({ secret: 'demo-test-secret-long-enough-for-hs256', ...options })
  t.teardown(() => app.close())
  await app.listen({ port, host: '127.0.0.1' })
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}
