// typetests/readme-typed-client.tst.ts type-checks the README's typed-client snippet; this keeps
// its copy identical to the README's.
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import t from 'tap'

const root = resolve(import.meta.dirname, '..')

t.test('the typed-client snippet under type test is the README\'s, as written', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const typetest = await readFile(join(root, 'typetests', 'readme-typed-client.tst.ts'), 'utf8')
  const copy = /\/\/ README start\n([\s\S]*?)\/\/ README end\n/.exec(typetest)?.[1]
  t.ok(copy, 'the type test marks its copy')
  const section = readme.slice(readme.indexOf('### Typed clients'))
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  t.equal(copy, block, 'identical to the first code block under "Typed clients"')
})
