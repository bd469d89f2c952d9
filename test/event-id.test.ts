import t from 'tap'
import { newEventId } from '../src/replay/event-id.ts'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('event ids are random (version 4) UUIDs, unique across many draws of random bytes', async (t) => {
  // 256 ids per draw: 10,000 ids span 40 draws.
  const ids = Array.from({ length: 10_000 }, () => newEventId())
  t.equal(ids.filter((id) => !UUID_V4.test(id)).length, 0, 'every id is a version 4 UUID')
  t.equal(new Set(ids).size, ids.length, 'no id repeats')
})

t.test('every random digit of an id takes many values', async (t) => {
  // A digit stuck at one value (a byte written to the wrong place) would show here.
  const ids = Array.from({ length: 1000 }, () => newEventId())
  for (let at = 0; at < 36; at++) {
    if ([8, 13, 14, 18, 23].includes(at)) continue // dashes, and the version digit
    const seen = new Set(ids.map((id) => id[at]))
    t.ok(seen.size >= (at === 19 ? 4 : 16), `position ${at}: ${seen.size} values`)
  }
})
