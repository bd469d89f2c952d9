import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import * as schemas from '../src/schemas/index.ts'

const run = promisify(execFile)

function isSchema(value: unknown): value is TSchema & Record<string, unknown> {
  return typeof value === 'object' && value !== null && '~kind' in value
}

const exported: [string, TSchema & Record<string, unknown>][] = []
for (const [name, value] of Object.entries(schemas) as [string, unknown][]) {
  if (isSchema(value)) exported.push([name, value])
}

/** Every sub-schema (object node) of a schema, with a JSON pointer to it. */
function nodes(schema: unknown, pointer = '/'): [string, Record<string, unknown>][] {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return []
  const node = schema as Record<string, unknown>
  const found: [string, Record<string, unknown>][] = [[pointer, node]]
  for (const [key, child] of Object.entries(node)) {
    if (key === 'examples' || key === 'const' || key === 'enum' || key === 'required') continue
    const base = pointer === '/' ? '' : pointer
    if (Array.isArray(child)) child.forEach((item, index) => found.push(...nodes(item, `${base}/${key}/${index}`)))
    else found.push(...nodes(child, `${base}/${key}`))
  }
  return found
}

/** Every sub-schema that carries `examples`. */
function annotated(schema: unknown): [string, Record<string, unknown>][] {
  return nodes(schema).filter(([, node]) => Array.isArray(node.examples))
}

t.test('the schemas entry exports every schema that DESIGN.md lists', async (t) => {
  const names = exported.map(([name]) => name)
  for (const name of [
    'AgentThoughtEvent', 'AgentToolCallEvent', 'AgentResultEvent', 'AgentErrorEvent', 'AgentEvent',
    'ThoughtData', 'ToolCallData', 'ResultData', 'ErrorData', 'SubscribeRequest', 'SubscribeAck',
    'UnsubscribeRequest', 'RefreshRequest', 'RefreshAck',
  ]) {
    t.ok(names.includes(name), `${name} is exported`)
  }
  t.type(schemas.asyncapiDocument, 'function')
})

t.test('each exported schema has a unique $id, a description and examples', async (t) => {
  const ids = new Set<string>()
  for (const [name, schema] of exported) {
    t.type(schema.description, 'string', `${name} has a description`)
    t.ok(Array.isArray(schema.examples) && schema.examples.length > 0, `${name} has examples`)
    // The workflow id alone goes without: it is embedded in many schemas, and Ajv refuses a
    // schema in which one $id appears twice (AgentEvent holds five workflow ids). The message id
    // likewise: every delta event holds one.
    if (name === 'WorkflowId' || name === 'MessageId') {
      t.equal(schema.$id, undefined, `${name} has no $id`)
      continue
    }
    t.type(schema.$id, 'string', `${name} has an $id`)
    t.notOk(ids.has(schema.$id as string), `${name}'s $id is unique`)
    ids.add(schema.$id as string)
  }
})

t.test('every property of every schema is described', async (t) => {
  for (const [name, schema] of exported) {
    for (const [pointer, node] of nodes(schema)) {
      const properties = node.properties as Record<string, Record<string, unknown>> | undefined
      for (const [key, property] of Object.entries(properties ?? {})) {
        t.type(property.description, 'string', `${name}${pointer === '/' ? '' : pointer}/properties/${key} has a description`)
      }
    }
  }
})

t.test('every example validates against its own schema (typebox/compile)', async (t) => {
  let checked = 0
  for (const [name, schema] of exported) {
    for (const [pointer, node] of annotated(schema)) {
      const validator = Compile(node as TSchema)
      for (const example of node.examples as unknown[]) {
        const errors = [...validator.Errors(example)].map((error) => `${error.instancePath} ${error.message}`)
        t.same(errors, [], `${name} ${pointer}: ${JSON.stringify(example)}`)
        checked++
      }
    }
  }
  t.ok(checked > 50, `${checked} examples checked`)
})

t.test('an example that breaks a constraint is refused (the check above can fail)', async (t) => {
  const validator = Compile(schemas.AgentToolCallEvent)
  const [example] = (schemas.AgentToolCallEvent as { examples?: Record<string, unknown>[] }).examples ?? []
  t.ok(validator.Check(example))
  t.notOk(validator.Check({ ...example, data: { tool_name: 'x', status: 'done' } }))
  t.notOk(validator.Check({ ...example, extra: true }))
})

// A fresh Node process imports the entry and lists every npm package that the import loaded.
async function probe(entry: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/loaded-packages.mjs', entry])
  return JSON.parse(stdout) as string[]
}

// What a child process loads before importing anything (the TypeScript loader, the test runner's
// instrumentation): subtracted from each probe.
let baseline: Set<string> | undefined
async function loadedPackages(entry: string): Promise<string[]> {
  baseline ??= new Set(await probe('node:os'))
  return (await probe(entry)).filter((name) => !baseline?.has(name))
}

t.test('importing fastify-agent-events/schemas loads neither fastify nor socket.io', async (t) => {
  t.same(await loadedPackages('./src/schemas/index.ts'), ['typebox'], 'typebox is its only dependency')
})

t.test('the same probe sees fastify-agent-events load socket.io (the probe works)', async (t) => {
  const loaded = await loadedPackages('./src/index.ts')
  t.ok(loaded.includes('socket.io'), 'socket.io')
  t.ok(loaded.includes('engine.io'), 'engine.io, required from CommonJS')
  t.ok(loaded.includes('fastify-plugin'), 'fastify-plugin')
  t.same(loaded.filter((name) => name.startsWith('@ag-ui/') || name === 'ai'), [], 'the agent UI protocols\' packages are loaded only when a bridge first answers')
})
