// What a heap grew by between two snapshots, by kind of object, per unit (a connection, an event):
//   npx tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [units] [rows]
// (`npm run bench -- --scenario memory --heap-snapshot` writes both, per connection: units = clients.)
// Snapshots count live objects only, so unlike heapUsed the figure does not move with the timing
// of the last collection: differences of a few bytes per connection are real.
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

type Tally = Map<string, { count: number; bytes: number }>

// Names of strings are their contents, and of code its source: group those by type alone.
const BY_TYPE_ONLY = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code', 'hidden'])

function tally(file: string): Tally {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = snapshot.meta.node_fields
  const types = snapshot.meta.node_types[0]
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field)) as [number, number, number]
  const byKind: Tally = new Map()
  for (let at = 0; at < nodes.length; at += fields.length) {
    const type = types[nodes[at + typeAt] as number] as string
    const kind = BY_TYPE_ONLY.has(type) ? type : `${type} ${(strings[nodes[at + nameAt] as number] as string).slice(0, 50)}`
    const entry = byKind.get(kind) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += nodes[at + sizeAt] as number
    byKind.set(kind, entry)
  }
  return byKind
}

const [beforeFile, afterFile, unitsArg, rowsArg] = process.argv.slice(2)
if (beforeFile === undefined || afterFile === undefined) throw new Error('usage: heap-diff.ts before after [units] [rows]')
const units = Number(unitsArg ?? 1)
const rows = Number(rowsArg ?? 25)
const before = tally(beforeFile)
const after = tally(afterFile)
const growth = [...new Set([...before.keys(), ...after.keys()])].map((kind) => {
  const a = before.get(kind) ?? { count: 0, bytes: 0 }
  const b = after.get(kind) ?? { count: 0, bytes: 0 }
  return { kind, count: (b.count - a.count) / units, bytes: (b.bytes - a.bytes) / units }
})
growth.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes))
const total = growth.reduce((sum, row) => sum + row.bytes, 0)
console.log(`${total.toFixed(0)} bytes per unit (${units} units)`)
console.log('   objects     bytes  kind')
for (const row of growth.slice(0, rows)) {
  console.log(`${row.count.toFixed(2).padStart(10)} ${row.bytes.toFixed(0).padStart(9)}  ${row.kind}`)
}
