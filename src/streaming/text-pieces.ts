/** UTF-8 bytes that `text` takes inside a JSON document, escapes included, quotes not. */
export function jsonTextBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2
}

/** The most UTF-8 bytes one UTF-16 unit can take in JSON: a `\uXXXX` escape. */
export const MOST_JSON_BYTES_PER_UNIT = 6

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

/**
 * Cut `text` into pieces of at most `budget` JSON bytes each (`jsonTextBytes`), in order, never
 * between the two halves of a surrogate pair, so that every piece is valid text on its own.
 * `budget` must be at least 12 (one pair, escaped).
 */
export function splitText(text: string, budget: number): string[] {
  const pieces: string[] = []
  let rest = text
  while (rest.length > 0) {
    if (jsonTextBytes(rest) <= budget) {
      pieces.push(rest)
      break
    }
    // Guess from the bytes per unit of what is left, then shrink until it fits: each unit takes
    // 1 to 6 bytes, so this ends in a few rounds.
    let length = Math.min(rest.length, budget)
    for (;;) {
      // A lone half would be broken text: keep the pair together (two units fit any budget of 12).
      if (isHighSurrogate(rest.charCodeAt(length - 1))) length += length === 1 ? 1 : -1
      const bytes = jsonTextBytes(rest.slice(0, length))
      if (bytes <= budget) break
      length = Math.max(1, Math.min(length - 1, Math.floor((length * budget) / bytes)))
    }
    pieces.push(rest.slice(0, length))
    rest = rest.slice(length)
  }
  return pieces
}
