import t from 'tap'
import { jsonBytesAtMost } from '../src/event-size.ts'
import { seededRandom, seedsFromEnv } from './random.ts'

// The size check clears most events with a bound instead of building their JSON: the bound must
// never be below the real size, whatever the content (escapes, astral characters, lone
// surrogates, numbers of every length, holes, values JSON leaves out).

const SAMPLES = 3000

function randomValue(random: () => number, depth: number): unknown {
  const int = (below: number): number => Math.floor(random() * below)
  const chars = (): string => {
    const pieces = ['a', '"', '\\', '\n', '\u0001', '\u007f', 'é', '€', '😀', '\ud800', '\udfff', '\u2028', '</script>']
    let text = ''
    for (let n = int(40); n > 0; n--) text += pieces[int(pieces.length)]
    return text
  }
  const numbers = [0, -0, 1, -1.5, 1e21, -1.7976931348623157e308, 5e-324, -1.2345678901234567e-123, Number.MAX_SAFE_INTEGER, NaN, Infinity]
  switch (depth > 0 ? int(9) : int(6)) {
    case 0: return chars()
    case 1: return numbers[int(numbers.length)]
    case 2: return random() < 0.5
    case 3: return null
    case 4: return undefined
    case 5: return () => 1
    case 6: {
      const items: unknown[] = Array.from({ length: int(6) }, () => randomValue(random, depth - 1))
      if (random() < 0.2) items[items.length + 2] = 'after a hole'
      return items
    }
    default: {
      const object: Record<string, unknown> = random() < 0.2 ? Object.create(null) : {}
      for (let n = int(6); n > 0; n--) object[chars()] = randomValue(random, depth - 1)
      return object
    }
  }
}

for (const seed of seedsFromEnv([1, 2, 3])) {
  t.test(`the bound is never below JSON.stringify's UTF-8 size (seed ${seed})`, async (t) => {
    const random = seededRandom(seed)
    let below = 0
    for (let n = 0; n < SAMPLES; n++) {
      const value = { type: 'result', workflowId: 'wf', data: randomValue(random, 4), timestamp: new Date(0).toISOString() }
      const exact = Buffer.byteLength(JSON.stringify(value))
      const bound = jsonBytesAtMost(value, Number.MAX_SAFE_INTEGER)
      if (bound < exact) below++
    }
    t.equal(below, 0, `${SAMPLES} random events`)
  })
}

t.test('what the bound does not model is left to JSON.stringify', async (t) => {
  const budget = 1_000_000
  t.equal(jsonBytesAtMost({ at: new Date() }, budget), Infinity, 'toJSON')
  t.equal(jsonBytesAtMost({ n: new Number(1e21) }, budget), Infinity, 'a boxed primitive')
  t.equal(jsonBytesAtMost({ n: 10n }, budget), Infinity, 'a BigInt')
  t.equal(jsonBytesAtMost({ m: new Map() }, budget), Infinity, 'a class instance')
  let deep: unknown = 'leaf'
  for (let n = 0; n < 40; n++) deep = { deep }
  t.equal(jsonBytesAtMost(deep, budget), Infinity, 'deep nesting (a cycle ends here too)')
  t.equal(jsonBytesAtMost({ content: 'x'.repeat(1000) }, 100), Infinity, 'past the budget')
  t.ok(jsonBytesAtMost({ content: 'x'.repeat(1000) }, budget) >= 1000 + 14, 'within it, a bound')
})
