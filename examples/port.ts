// The port an example listens on. Each has its own default, so that the demo and the examples can
// run side by side; `PORT` overrides it (`PORT=0` takes any free port).

export const EXAMPLE_PORTS = Object.freeze({ demo: 3000, openapi: 3001, basic: 3002, agUi: 3003, useChat: 3005 })

/** `PORT` when it is set, else `defaultPort`. A `PORT` that is not a port ends the process, saying so. */
export function listenPort(defaultPort: number, value: string | undefined = process.env.PORT): number {
  if (value === undefined || value === '') return defaultPort
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    process.stderr.write(`PORT must be an integer from 0 to 65535, not ${JSON.stringify(value)}\n`)
    process.exit(1)
  }
  return parsed
}
