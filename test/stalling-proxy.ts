import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Socket as TcpSocket } from 'node:net'
import type { Test } from 'tap'

/**
 * A TCP proxy in front of the test server, for clients that stop reading as a frozen tab does:
 * `stall()` stops taking the server's bytes on every connection (so they back up in the kernel,
 * then in the server), `resume()` forwards what waited and carries on. Works the same for
 * websocket and polling clients, whose transport knows nothing of it. `cut()` drops every
 * connection as a lost network does; `retarget()` sends new ones to a restarted server.
 */
export interface StallingProxy {
  /** Base URL for clients: the proxy's own port. */
  url: string
  stall(): void
  resume(): void
  /** Cut every connection at once, as a lost network does; new connections are taken as before. */
  cut(): void
  /** Send new connections to another server (a restarted node on a new port); open ones stay. */
  retarget(target: string): void
}

export async function stallingProxy(t: Test, target: string): Promise<StallingProxy> {
  let { hostname, port } = new URL(target)
  const links = new Set<{ up: TcpSocket; down: TcpSocket }>()
  let stalled = false

  const forward = (up: TcpSocket, down: TcpSocket): void => void up.pipe(down)
  const hold = (up: TcpSocket, down: TcpSocket): void => {
    up.unpipe(down)
    up.pause()
  }

  const server = createServer((down) => {
    const up = connect(Number(port), hostname)
    const link = { up, down }
    links.add(link)
    down.pipe(up)
    if (!stalled) forward(up, down)
    else up.pause()
    // The server ending its side ends the client's once all forwarded bytes are written; an
    // error on either side cuts the other.
    up.on('error', () => down.destroy())
    down.on('error', () => up.destroy())
    up.on('close', () => down.end())
    down.on('close', () => {
      links.delete(link)
      up.destroy()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const { up, down } of links) {
      up.destroy()
      down.destroy()
    }
    await new Promise((resolve) => server.close(resolve))
  })

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stall() {
      stalled = true
      for (const { up, down } of links) hold(up, down)
    },
    resume() {
      stalled = false
      for (const { up, down } of links) forward(up, down)
    },
    cut() {
      for (const { up, down } of links) {
        up.destroy()
        down.destroy()
      }
    },
    retarget(next) {
      ;({ hostname, port } = new URL(next))
    },
  }
}
