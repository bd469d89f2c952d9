// CPU profile of a server process (`npm run bench -- --profile`), limited to the measured phase
// when the scenario has one: start-up, connects and warm-up would otherwise take most of the
// samples and hide the per-event cost. Scenarios without a measured phase (memory, replay) get
// the profile of the whole process.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

export interface PhaseProfiler {
  /** Drop what was sampled so far and sample from now on. */
  restart(): Promise<void>
  /** Stop sampling and write the profile, once. */
  save(): Promise<void>
}

/** `undefined` unless `dir` is given; files are named `<name>.cpuprofile`. */
export async function phaseProfiler(dir: string | undefined, name: string): Promise<PhaseProfiler | undefined> {
  if (dir === undefined || dir === '') return undefined
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  let running = true
  return {
    async restart() {
      if (running) await session.post('Profiler.stop')
      await session.post('Profiler.start')
      running = true
    },
    async save() {
      if (!running) return
      running = false
      const { profile } = await session.post('Profiler.stop')
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile))
    },
  }
}
