// Where a CPU profile's time went, as text: the functions with the most self time, then the
// plugin's own functions (and the Socket.IO broadcast) by inclusive time.
//   npx tsx bench/profile-top.ts bench/profiles/<name>.cpuprofile [rows]
// Sampled on the wall clock: on a busy machine a descheduled process's time lands on whatever it
// was running, so compare shares between two profiles of one run rather than milliseconds.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const [file, rowsArg] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: profile-top.ts <file.cpuprofile> [rows]')
const rows = Number(rowsArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile

const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
const parentOf = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)

function nameOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame
  const where = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
  return where === '' ? functionName || '(anonymous)' : `${functionName || '(anonymous)'} ${where}`
}

// Each sample's time is the delta to the next sample.
const selfUs = new Map<number, number>()
let totalUs = 0
for (let i = 0; i < profile.samples.length; i++) {
  const us = profile.timeDeltas[i + 1] ?? 0
  const id = profile.samples[i] as number
  selfUs.set(id, (selfUs.get(id) ?? 0) + us)
  totalUs += us
}

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
for (const [id, us] of selfUs) {
  const leaf = nodes.get(id) as ProfileNode
  self.set(nameOf(leaf), (self.get(nameOf(leaf)) ?? 0) + us)
  // A recursive function counts once per sample.
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const name = nameOf(nodes.get(at) as ProfileNode)
    if (seen.has(name)) continue
    seen.add(name)
    inclusive.set(name, (inclusive.get(name) ?? 0) + us)
  }
}

const line = (us: number, name: string): string =>
  `${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`
const top = (map: Map<string, number>, keep: (name: string) => boolean): string[] =>
  [...map].filter(([name]) => keep(name)).sort((a, b) => b[1] - a[1]).slice(0, rows).map(([name, us]) => line(us, name))

console.log(`${file}: ${(totalUs / 1000).toFixed(0)} ms sampled`)
console.log('self time:')
console.log(top(self, () => true).join('\n'))
console.log('inclusive time, src/ and the broadcast:')
console.log(top(inclusive, (name) => / src\/|broadcast-operator|in-memory-adapter|\(garbage collector\)/.test(name)).join('\n'))
