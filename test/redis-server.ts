import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Redis, type RedisOptions } from 'ioredis'
import { Redis as Redis5 } from 'ioredis-v5'
import type { Test } from 'tap'

/** The ioredis majors that the peer range accepts: `ioredis` is 6, `ioredis-v5` an npm alias of 5. */
export const IOREDIS_MAJORS = [5, 6] as const
export type IoredisMajor = (typeof IOREDIS_MAJORS)[number]
/** The node-redis majors that the peer range accepts: `redis` is 6, `redis-v5` an npm alias of 5.0. */
export const NODE_REDIS_MAJORS = [5, 6] as const

// Typed as the newest major: the tests call only commands and options that both majors share.
const CLIENT_CLASSES: Record<IoredisMajor, typeof Redis> = { 5: Redis5 as unknown as typeof Redis, 6: Redis }
let clientMajor: IoredisMajor = 6

/**
 * Which ioredis major `RedisServer#client` creates from now on, for the whole process: an entry file
 * calls it before it imports the test files that should run on that major.
 */
export function useIoredis(major: IoredisMajor): void {
  clientMajor = major
}

/** The ioredis major that `RedisServer#client` creates. */
export function ioredisMajor(): IoredisMajor {
  return clientMajor
}

/**
 * A real `redis-server` for the multi-node tests: its own free port on 127.0.0.1, persistence off
 * (so a restart is an empty Redis, like a flush), stopped when the test ends.
 */
export interface RedisServer {
  port: number
  url: string
  /** A client (pass the options of the README's recipe), closed when the test ends. */
  client(t: Teardown, options?: ClientOptions): Redis
  stop(): Promise<void>
  /** Start again on the same port, empty. */
  start(): Promise<void>
}

/**
 * ioredis 6 declares `replyMapping?: ReplyMappingMode | undefined` in `RedisOptions` but refuses
 * `undefined` in its constructor under `exactOptionalPropertyTypes`; the tests never set it.
 */
export type ClientOptions = Omit<RedisOptions, 'replyMapping'>

const INSTALL_HINT = 'redis-server not found: install it with `apt-get install redis-server` (Debian/Ubuntu) to run the Redis tests'

/**
 * Whether the Redis tests can run here. Without `redis-server` they skip, except under CI
 * (env `CI` set), where a missing server fails the run instead of silently skipping it.
 */
export function redisAvailable(t: Test): boolean {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
  if (found) return true
  if (process.env.CI) {
    t.fail(`${INSTALL_HINT} (CI is set, so the Redis tests must run)`)
  } else {
    t.comment(INSTALL_HINT)
    t.pass('Redis tests', { skip: INSTALL_HINT })
  }
  return false
}

/**
 * Start `redis-server` with these arguments and resolve once it accepts connections (it says so
 * on stdout); reject with its output if it exits first.
 */
export async function spawnRedisServer(args: string[], cwd?: string): Promise<ChildProcess> {
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd === undefined ? {} : { cwd }) })
  // A test process that ends before its teardown (killed by a time-out) must not leave it running.
  const killOnExit = (): void => void proc.kill('SIGKILL')
  process.once('exit', killOnExit)
  proc.once('exit', () => process.off('exit', killOnExit))
  let output = ''
  proc.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        proc.stdout?.off('data', onData)
        proc.stdout?.resume()
        proc.off('exit', onExit)
        resolve()
      }
    }
    const onExit = (code: number | null): void => reject(new Error(`redis-server exited with ${String(code)}: ${output}`))
    proc.stdout?.on('data', onData)
    proc.once('exit', onExit)
  })
  return proc
}

export async function freePort(): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const address = probe.address()
  probe.close()
  await once(probe, 'close')
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** Whatever runs cleanups at the end: a tap `Test`, or the bench's own list. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export async function startRedis(t: Teardown): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined

  async function start(): Promise<void> {
    child = await spawnRedisServer(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'])
  }

  async function stop(): Promise<void> {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill('SIGTERM')
    await exited
  }

  t.teardown(stop)
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client(t, options = {}) {
      // ioredis retries quickly, so a restarted Redis is found again at once.
      const client = new CLIENT_CLASSES[clientMajor]({ port, host: '127.0.0.1', retryStrategy: (times) => Math.min(times * 50, 500), ...options })
      // ioredis reports each failed reconnection as an 'error' event; the tests watch behaviour instead.
      client.on('error', () => {})
      // QUIT, not disconnect(): it is answered after the commands already sent (the Socket.IO
      // adapter's un-awaited UNSUBSCRIBEs on close), so none of them is left to reject.
      t.teardown(async () => {
        if (client.status === 'end') return
        await client.quit().catch(() => {})
        client.disconnect()
      })
      return client
    },
    stop,
    start,
  }
}
