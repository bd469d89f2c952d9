import { randomFillSync } from 'node:crypto'

/** Random bytes drawn at once for this many ids, as `crypto.randomUUID()` does. */
const IDS_PER_DRAW = 256
const UUID_BYTES = 16

const pool = Buffer.alloc(IDS_PER_DRAW * UUID_BYTES)
let next = pool.length
/** The character codes of the id being made; the dashes stay where they are. */
const codes = Array.from('00000000-0000-4000-8000-000000000000', (char) => char.charCodeAt(0))
/** Where the two hex digits of each of the 16 bytes go. */
const DIGITS_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34] as const
/** The character codes of byte b's two hex digits, at 2b and 2b + 1. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))
  .join('')
  .split('')
  .map((char) => char.charCodeAt(0))

/**
 * A random (version 4) UUID, like `crypto.randomUUID()`, made as one flat string. `randomUUID`
 * joins its characters by concatenation: a tree of about a dozen string pieces (near 600 bytes)
 * per id, which the event's first JSON encoding then flattens again. One id per recorded event
 * makes that garbage worth avoiding.
 */
export function newEventId(): string {
  if (next === pool.length) {
    randomFillSync(pool)
    next = 0
  }
  // Version 4 (random) in the high nibble of byte 6, variant 10xx in the high bits of byte 8.
  pool[next + 6] = ((pool[next + 6] as number) & 0x0f) | 0x40
  pool[next + 8] = ((pool[next + 8] as number) & 0x3f) | 0x80
  for (let index = 0; index < UUID_BYTES; index++) {
    const hex = (pool[next + index] as number) * 2
    const at = DIGITS_AT[index] as number
    codes[at] = HEX[hex] as number
    codes[at + 1] = HEX[hex + 1] as number
  }
  next += UUID_BYTES
  return String.fromCharCode(...codes)
}
