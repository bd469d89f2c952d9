// until() waits on what its predicate says: an async predicate is awaited, never taken for true
// because its Promise is an object.
import t from 'tap'
import { until } from './until.ts'

t.test('an async predicate is awaited at each check', async (t) => {
  let checks = 0
  await until(async () => {
    await Promise.resolve()
    return ++checks === 3
  })
  t.equal(checks, 3, 'it went on until the third check said true')
})

t.test('an async predicate that stays false fails in time', async (t) => {
  await t.rejects(until(async () => false, 20), { message: 'condition not met in time' })
  const typedAny = (): any => Promise.resolve(false)
  await t.rejects(until(typedAny, 20), { message: 'condition not met in time' }, 'also where its type is any')
})

t.test('a predicate that gives anything but a boolean is refused at once', async (t) => {
  // Typed `any`, as a value from an untyped page script can be: an object is always truthy.
  const typedAny = (): any => ({ visible: false })
  await t.rejects(until(typedAny), { name: 'TypeError', message: /boolean, not object/ })
  await t.rejects(until((() => undefined) as unknown as () => boolean), { name: 'TypeError', message: /not undefined/ })
})

t.test('the types refuse a predicate that gives no boolean', async (t) => {
  // @ts-expect-error a Promise of a string is no condition
  await t.rejects(until(async () => 'yes'), TypeError)
  // @ts-expect-error neither is a number
  await t.rejects(until(() => 1), TypeError)
})
