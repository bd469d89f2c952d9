// The package as npm would publish it: `npm run build` and `npm pack`, then
// publint and arethetypeswrong on the tarball, then the tarball unpacked into a temporary app
// outside the repository that imports every entry point from ESM and from CommonJS, and follows a
// workflow with the packed client.
//
// No registry access: the app's node_modules holds the unpacked tarball and symlinks to this
// repository's installed copies of the package's dependencies and peer dependencies, nothing
// else, so an undeclared import would fail to resolve.
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { publint } from 'publint'
import t from 'tap'

const run = promisify(execFile)
// tsc and npm pack run inside this file: on a busy machine that takes longer than the default.
t.setTimeout(300_000)
const root = resolve(import.meta.dirname, '..')
const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  name: string
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
}
// Child processes without the test runner's NODE_OPTIONS (its TypeScript loader and
// instrumentation): they run the built JavaScript as an app would.
const env = { ...process.env, NODE_OPTIONS: '' }

const work = await mkdtemp(join(tmpdir(), 'fastify-agent-events-pack-'))
t.teardown(() => rm(work, { recursive: true, force: true }))

// Build, then pack without lifecycle scripts, so that npm's JSON report is all that is on stdout.
await run('npm', ['run', 'build'], { cwd: root, env })
const [packed] = JSON.parse(
  (await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, env, maxBuffer: 16 * 1024 * 1024 })).stdout,
) as [{ filename: string; files: { path: string }[] }]
const tarball = join(work, packed.filename)

t.test('the tarball holds dist, README, LICENSE, CHANGELOG and package.json, and nothing else', async (t) => {
  const paths = packed.files.map((file) => file.path)
  const allowed = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'])
  t.same(paths.filter((path) => !allowed.has(path) && !path.startsWith('dist/')), [], 'no other file')
  const entries = ['dist/index.js', 'dist/index.d.ts', 'dist/schemas/index.js', 'dist/schemas/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/react/index.js', 'dist/react/index.d.ts']
  for (const path of [...allowed, ...entries]) {
    t.ok(paths.includes(path), path)
  }
  t.notOk(paths.some((path) => path.endsWith('.map')), 'no source maps pointing at sources that are not shipped')
})

t.test('publint finds nothing on the tarball', async (t) => {
  const tarballBytes = await readFile(tarball)
  const { messages } = await publint({
    pack: { tarball: tarballBytes.buffer.slice(tarballBytes.byteOffset, tarballBytes.byteOffset + tarballBytes.byteLength) },
    level: 'suggestion',
    strict: true,
  })
  t.same(messages, [])
  t.comment(`publint: ${messages.length} messages`)
})

t.test('arethetypeswrong passes on the tarball (profile esm-only: an ESM package for Node >= 20.19)', async (t) => {
  const attw = join(root, 'node_modules', '.bin', 'attw')
  const { stdout } = await run(attw, [tarball, '--profile', 'esm-only', '--format', 'json'], { cwd: work, env })
  const report = JSON.parse(stdout) as { analysis: { problems: unknown[]; entrypoints: Record<string, unknown> } }
  // esm-only ignores node10 and require() from TypeScript's node16 CommonJS mode, which do not
  // model require(esm); the runtime test below covers require().
  const ignored = new Set(['node10', 'node16-cjs'])
  const problems = (report.analysis.problems as { resolutionKind?: string; kind: string; entrypoint?: string }[])
    .filter((problem) => problem.resolutionKind === undefined || !ignored.has(problem.resolutionKind))
  t.same(problems, [], 'no problem for node16 ESM or bundlers')
  t.same(Object.keys(report.analysis.entrypoints).sort(), ['.', './client', './package.json', './react', './schemas'])
})

async function installIntoApp(): Promise<string> {
  const app = join(work, 'app')
  const installed = join(app, 'node_modules', manifest.name)
  await mkdir(installed, { recursive: true })
  await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1'])
  for (const dependency of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
    const link = join(app, 'node_modules', dependency)
    await mkdir(dirname(link), { recursive: true })
    await symlink(join(root, 'node_modules', dependency), link, 'dir')
  }
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  return app
}

const app = await installIntoApp()

// Both scripts register the plugin on a real Fastify app, emit one event and close: the built code
// runs, not only loads.
const ESM_APP = `
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import agentEvents, { fastifyAgentEvents, memoryReplayStore } from 'fastify-agent-events'
import { AgentThoughtEvent, asyncapiDocument } from 'fastify-agent-events/schemas'
const app = Fastify()
await app.register(fastifyJwt, { secret: 'packed-tarball-secret-long-enough' })
await app.register(agentEvents, { authorize: () => true, replay: { store: memoryReplayStore() } })
await app.ready()
const event = await app.agentEvents.emitThought('wf-1', 'from ESM')
await app.close()
console.log(JSON.stringify({
  sameExport: agentEvents === fastifyAgentEvents,
  seq: event.seq,
  schemaId: AgentThoughtEvent.$id,
  asyncapi: asyncapiDocument().asyncapi,
}))
`

// The packed client follows a workflow of the packed plugin, in Node, as a server-side consumer would.
const CLIENT_APP = `
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import agentEvents from 'fastify-agent-events'
import { createAgentEventsClient } from 'fastify-agent-events/client'
const app = Fastify()
await app.register(fastifyJwt, { secret: 'packed-tarball-secret-long-enough' })
await app.register(agentEvents, { path: '/ws' })
await app.listen({ port: 0, host: '127.0.0.1' })
await app.agentEvents.emitThought('wf-1', 'recorded before the client came')
const client = createAgentEventsClient('http://127.0.0.1:' + app.server.address().port, {
  path: '/ws',
  token: () => app.jwt.sign({ sub: 'u1' }, { expiresIn: '1h' }),
})
const seen = []
for await (const event of client.follow('wf-1')) {
  seen.push(event.data.content)
  if (seen.length === 1) await app.agentEvents.emitThought('wf-1', 'live')
  if (seen.length === 2) break
}
client.close()
await app.close()
console.log(JSON.stringify({ seen, status: client.status }))
`

const CJS_APP = `
const Fastify = require('fastify')
const fastifyJwt = require('@fastify/jwt')
const { fastifyAgentEvents, default: defaultExport } = require('fastify-agent-events')
const { AgentThoughtEvent, asyncapiDocument } = require('fastify-agent-events/schemas')
async function main() {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: 'packed-tarball-secret-long-enough' })
  await app.register(fastifyAgentEvents, { authorize: () => true })
  await app.ready()
  const event = await app.agentEvents.emitThought('wf-1', 'from CommonJS')
  await app.close()
  console.log(JSON.stringify({
    requireModule: process.features.require_module,
    sameExport: defaultExport === fastifyAgentEvents,
    seq: event.seq,
    schemaId: AgentThoughtEvent.$id,
    asyncapi: asyncapiDocument().asyncapi,
  }))
}
main().catch((error) => { console.error(error); process.exit(1) })
`

// The three checks run their child processes at once; each test then awaits its own.
const esmRun = writeFile(join(app, 'esm.mjs'), ESM_APP).then(() => run(process.execPath, ['esm.mjs'], { cwd: app, env }))
const cjsRun = writeFile(join(app, 'cjs.cjs'), CJS_APP).then(() => run(process.execPath, ['cjs.cjs'], { cwd: app, env }))
const clientRun = writeFile(join(app, 'client.mjs'), CLIENT_APP).then(() => run(process.execPath, ['client.mjs'], { cwd: app, env }))
const schemasProbe = (async () => {
  for (const file of ['loaded-packages.mjs', 'loaded-packages-hooks.mjs']) {
    await cp(join(root, 'test', 'fixtures', file), join(app, file))
  }
  const list = async (target: string) =>
    JSON.parse((await run(process.execPath, ['loaded-packages.mjs', target], { cwd: app, env })).stdout) as string[]
  // What a child loads before importing anything (the test runner's instrumentation), subtracted.
  const [baseline, schemas, client, react] = await Promise.all(
    [list('node:os'), list('fastify-agent-events/schemas'), list('fastify-agent-events/client'), list('fastify-agent-events/react')],
  )
  const own = (loaded: string[]) => loaded.filter((name) => !baseline.includes(name) && name !== manifest.name)
  return { schemas: own(schemas), client: own(client), react: own(react) }
})()
// Settled here so that a failure is reported by its own test, not as an unhandled rejection.
for (const pending of [esmRun, cjsRun, clientRun, schemasProbe]) pending.catch(() => {})

// npm's own verdict on the peer ranges, as an app with these peers installed would get it (where it
// reports a peer as invalid, `npm install` in that app fails with ERESOLVE): `npm ls` in an app
// holding the packed package beside the installed major of each peer, ioredis 5 and 6 included.
async function peerVerdict(peer: string, installedDir: string): Promise<{ version: string; invalid: unknown[] }> {
  const peerApp = await mkdtemp(join(work, 'peer-'))
  await writeFile(join(peerApp, 'package.json'), JSON.stringify({
    name: 'peer-app',
    private: true,
    dependencies: { [manifest.name]: '*', [peer]: '*' },
  }))
  // The packed manifest is copied, not linked: npm resolves a linked package's peers from where the
  // link points, which is outside this app.
  const installed = join(peerApp, 'node_modules', manifest.name)
  await mkdir(installed, { recursive: true })
  await cp(join(app, 'node_modules', manifest.name, 'package.json'), join(installed, 'package.json'))
  const link = join(peerApp, 'node_modules', peer)
  await mkdir(dirname(link), { recursive: true })
  await symlink(join(root, 'node_modules', installedDir), link, 'dir')
  // The package's other dependencies are not installed here: npm ls exits non-zero for them, so
  // its JSON is read whatever the exit code.
  const { stdout } = await run('npm', ['ls', peer, '--json', '--offline'], { cwd: peerApp, env }).catch((error: { stdout: string }) => error)
  const tree = JSON.parse(stdout) as { dependencies?: Record<string, { version: string; invalid?: unknown }> }
  const entry = tree.dependencies?.[peer]
  return { version: entry?.version ?? 'missing', invalid: entry?.invalid === undefined ? [] : [entry.invalid] }
}

t.test('the peer ranges accept the current major of every peer, ioredis 5 and 6 and node-redis 5 and 6 alike, ai 7, socket.io-client 4, react 18 and 19, AG-UI 1', async (t) => {
  const cases = [
    { peer: 'fastify', dir: 'fastify', major: '5' },
    { peer: '@fastify/jwt', dir: '@fastify/jwt', major: '10' },
    { peer: 'ioredis', dir: 'ioredis', major: '6' },
    { peer: 'ioredis', dir: 'ioredis-v5', major: '5' },
    { peer: 'redis', dir: 'redis', major: '6' },
    { peer: 'redis', dir: 'redis-v5', major: '5' },
    { peer: 'ai', dir: 'ai', major: '7' },
    { peer: 'socket.io-client', dir: 'socket.io-client', major: '4' },
    { peer: 'react', dir: 'react', major: '18' },
    // React 19 is installed apart from the root (see test/react.test.ts).
    { peer: 'react', dir: '../test/fixtures/react-19/node_modules/react', major: '19' },
    { peer: '@ag-ui/core', dir: '@ag-ui/core', major: '1' },
    { peer: '@ag-ui/encoder', dir: '@ag-ui/encoder', major: '1' },
  ]
  for (const { peer, dir, major } of cases) {
    const { version, invalid } = await peerVerdict(peer, dir)
    t.equal(version.split('.')[0], major, `${peer} ${version} is installed`)
    t.same(invalid, [], `npm accepts ${peer} ${version} for the range ${manifest.peerDependencies[peer]}`)
  }
})

t.test('the installed package works from ESM import', async (t) => {
  const { stdout, stderr } = await esmRun
  t.same(JSON.parse(stdout), { sameExport: true, seq: 1, schemaId: 'AgentThoughtEvent', asyncapi: '3.0.0' })
  t.equal(stderr, '')
})

t.test('the installed package works from CommonJS require (require(esm), Node >= 20.19)', async (t) => {
  const { stdout, stderr } = await cjsRun
  t.same(JSON.parse(stdout), { requireModule: true, sameExport: true, seq: 1, schemaId: 'AgentThoughtEvent', asyncapi: '3.0.0' })
  t.equal(stderr, '', `no warning on Node ${process.version}`)
})

// A CommonJS TypeScript file (.cts) importing the package. TypeScript models Node's require(esm)
// from `module: node20` (5.9) and `nodenext` (5.8) on; `node16` does not, and reports TS1479 for
// any ESM-only package: the README's Install section says so.
const CTS_CONSUMER = `
import { fastifyAgentEvents, type AgentEventsOptions } from 'fastify-agent-events'
import { AgentThoughtEvent } from 'fastify-agent-events/schemas'
const options: AgentEventsOptions = { path: '/ws' }
export const used = [fastifyAgentEvents, options, AgentThoughtEvent.$id] as const
`

async function typeCheckCommonJs(module: string): Promise<{ code: number; output: string }> {
  const project = join(app, `tsconfig.${module}.json`)
  await writeFile(project, JSON.stringify({
    compilerOptions: { module, strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
    files: ['consumer.cts'],
  }))
  try {
    const { stdout } = await run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: app, env })
    return { code: 0, output: stdout }
  } catch (error) {
    const failed = error as { code: number; stdout: string }
    return { code: failed.code, output: failed.stdout }
  }
}

t.test('a CommonJS TypeScript consumer type-checks with module node20 and nodenext (TS1479 with node16)', async (t) => {
  await writeFile(join(app, 'consumer.cts'), CTS_CONSUMER)
  await symlink(join(root, 'node_modules', '@types'), join(app, 'node_modules', '@types'), 'dir')
  for (const module of ['node20', 'nodenext']) {
    const { code, output } = await typeCheckCommonJs(module)
    t.equal(code, 0, `module ${module}: no error${output === '' ? '' : `\n${output}`}`)
  }
  const node16 = await typeCheckCommonJs('node16')
  t.not(node16.code, 0, 'module node16 cannot import an ESM-only package from CommonJS')
  t.match(node16.output, /TS1479/, 'and says so with TS1479')
})

t.test('the installed fastify-agent-events/schemas loads typebox only', async (t) => {
  t.same((await schemasProbe).schemas, ['typebox'])
})

t.test('the installed fastify-agent-events/client loads socket.io-client and what it needs, no server package', async (t) => {
  const { client } = await schemasProbe
  t.ok(client.includes('socket.io-client'), client.join(', '))
  t.same(client.filter((name) => /fastify|typebox|^socket\.io$|^engine\.io$|ioredis|^redis$/.test(name)), [])
})

t.test('the installed client follows a workflow of the installed plugin (ESM, Node)', async (t) => {
  const { stdout, stderr } = await clientRun
  t.same(JSON.parse(stdout), { seen: ['recorded before the client came', 'live'], status: 'offline' })
  t.equal(stderr, '')
})

t.test('the installed fastify-agent-events/react loads react only (the client comes from the app)', async (t) => {
  t.same((await schemasProbe).react, ['react'])
})
