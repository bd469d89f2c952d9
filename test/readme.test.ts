// The README is the API reference: every error code, option, decorator member and wire event
// that the code defines must appear in it, so that adding one without documenting it fails.
import { readFile, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import t from 'tap'
import { CLIENT_ERROR_CODES, HANDSHAKE_ERROR_CODES, asyncapiDocument } from '../src/schemas/index.ts'
import { startServer } from './helpers.ts'

const root = resolve(import.meta.dirname, '..')
const readme = await readFile(join(root, 'README.md'), 'utf8')

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return Promise.all(
    entries
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => readFile(join(entry.parentPath, entry.name), 'utf8')),
  )
}

t.test('every error code in src/ appears in the README', async (t) => {
  const text = (await sources(join(root, 'src'))).join('\n')
  const pluginCodes = new Set(text.match(/FST_AGENT_EVENTS_[A-Z_]+/g))
  t.ok(pluginCodes.size >= 3, `${pluginCodes.size} FST_AGENT_EVENTS_* codes found`)
  for (const code of [...pluginCodes, ...CLIENT_ERROR_CODES, ...HANDSHAKE_ERROR_CODES]) {
    t.ok(readme.includes(`\`${code}\``), `${code} is documented`)
  }
})

t.test('every option appears in the README', async (t) => {
  const options = await readFile(join(root, 'src', 'options.ts'), 'utf8')
  const known = /const known = new Set\(\[([^\]]+)\]\)/.exec(options)?.[1]
  const names = [...(known ?? '').matchAll(/'([A-Za-z]+)'/g)].map((match) => match[1] as string)
  t.ok(names.length >= 12, `${names.length} options found`)
  for (const name of names) t.ok(readme.includes(`| \`${name}`), `option ${name} has a row`)
  for (const name of ['auth.tokenFrom', 'auth.userIdClaim', 'auth.verify', 'auth.requireExp']) {
    t.ok(readme.includes(`| \`${name}\``), `option ${name} has a row`)
  }
})

t.test('every member of fastify.agentEvents appears in the README', async (t) => {
  const server = await startServer(t)
  const members = Object.keys(server.app.agentEvents)
  t.ok(members.length >= 9, `${members.length} members`)
  for (const member of members) t.ok(readme.includes(`| \`${member}`), `${member} has a row`)
})

t.test('every wire event appears in the README', async (t) => {
  const names = new Set(Object.values(asyncapiDocument().components.messages).map((message) => message.name as string))
  t.ok(names.size >= 10, `${names.size} events`)
  for (const name of names) t.ok(readme.includes(`\`${name}\``), `${name} is documented`)
})
