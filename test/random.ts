/** A small seeded generator (mulberry32): the same seed gives the same run, so a failure can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = state
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1)
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61)
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
  }
}

/** Seeds from `SEEDS=1,2,3` in the environment, or the given defaults. */
export function seedsFromEnv(defaults: number[]): number[] {
  const raw = process.env.SEEDS
  if (raw === undefined || raw.trim() === '') return defaults
  return raw.split(',').map((seed) => Number.parseInt(seed, 10)).filter(Number.isSafeInteger)
}
