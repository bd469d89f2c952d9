// Type-checks the README's assembled blocks in a process of its own, so that the test's event loop
// (which times the blocks' runs) is never held for the half minute a TypeScript program takes.
//   node --import tsx test/readme-typecheck.ts <root> <blocks.json>   prints { [file]: diagnostics[] }
import { readFile } from 'node:fs/promises'
import { type AssembledBlock, typeCheck } from './readme-blocks.ts'

const [root, list] = process.argv.slice(2)
if (root === undefined || list === undefined) throw new Error('usage: readme-typecheck.ts <root> <blocks.json>')
const assembled = JSON.parse(await readFile(list, 'utf8')) as AssembledBlock[]
const results = typeCheck(root, assembled)
process.stdout.write(JSON.stringify(Object.fromEntries([...results].map(([entry, diagnostics]) => [entry.file, diagnostics]))))
