// The README's code blocks as test/readme.test.ts checks them: found, joined with what the test
// supplies around them (the reader's own `db`, `getToken`…), type-checked and run.
import { execFile } from 'node:child_process'
import { relative } from 'node:path'
import ts from 'typescript'

export interface ReadmeBlock {
  lang: string
  code: string
  /** The nearest `##` or `###` heading above the block. */
  heading: string
  /** `<heading> #<n>`: the n-th block of that language under that heading. */
  key: string
  /** README line of the block's first line of code (1-based). */
  line: number
}

/** Every fenced code block of a Markdown text, in order. */
export function codeBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = []
  const counts = new Map<string, number>()
  let heading = '(top)'
  let open: { lang: string; line: number; lines: string[] } | undefined
  for (const [index, text] of markdown.split('\n').entries()) {
    if (open !== undefined) {
      if (/^```\s*$/.test(text)) {
        const count = (counts.get(`${heading}\0${open.lang}`) ?? 0) + 1
        counts.set(`${heading}\0${open.lang}`, count)
        blocks.push({ lang: open.lang, code: open.lines.join('\n'), heading, key: `${heading} #${count}`, line: open.line })
        open = undefined
      } else {
        open.lines.push(text)
      }
      continue
    }
    const fence = /^```(\S*)\s*$/.exec(text)
    if (fence !== null) open = { lang: fence[1] ?? '', line: index + 2, lines: [] }
    else if (/^#{2,3} /.test(text)) heading = text.replace(/^#+ /, '').trim()
  }
  return blocks
}

/** A block's source file as the test writes it: the prelude, the block untouched, the epilogue. */
export interface AssembledBlock {
  block: ReadmeBlock
  file: string
  source: string
  /** File line (1-based) of the block's first line. */
  firstLine: number
}

export function assemble(block: ReadmeBlock, file: string, prelude: string, epilogue: string): AssembledBlock {
  const head = `// README.md line ${block.line}: ${block.key}\n${prelude.trim()}\n// ---- the README block, as written ----\n`
  return {
    block,
    file,
    source: `${head}${block.code}\n// ---- end of the README block ----\n${epilogue.trim()}\n`,
    firstLine: head.split('\n').length,
  }
}

/** Where a diagnostic points: a README line inside the block, or the test's own prelude or epilogue. */
function locate(assembled: AssembledBlock, line: number): string {
  const blockLines = assembled.block.code.split('\n').length
  const offset = line - assembled.firstLine
  if (offset >= 0 && offset < blockLines) return `README.md:${assembled.block.line + offset}`
  return `${offset < 0 ? 'prelude' : 'epilogue'} line ${line}`
}

/**
 * Type-check the files with the repository's tsconfig (its `paths` map `fastify-agent-events` to
 * src/). Files that augment a module (`declare module`) are checked in a program of their own,
 * since an augmentation changes the types of every file of its program.
 */
export function typeCheck(root: string, assembled: AssembledBlock[]): Map<AssembledBlock, string[]> {
  const configPath = `${root}/tsconfig.json`
  const config = ts.readConfigFile(configPath, ts.sys.readFile.bind(ts.sys))
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root, { noEmit: true }, configPath)
  const groups: AssembledBlock[][] = [assembled.filter((entry) => !/^declare module /m.test(entry.block.code))]
  for (const entry of assembled) if (/^declare module /m.test(entry.block.code)) groups.push([entry])

  const results = new Map<AssembledBlock, string[]>()
  let previous: ts.Program | undefined
  for (const group of groups) {
    if (group.length === 0) continue
    const program: ts.Program = ts.createProgram({ rootNames: group.map((entry) => entry.file), options, ...(previous === undefined ? {} : { oldProgram: previous }) })
    previous = program
    for (const entry of group) {
      const source = program.getSourceFile(entry.file)
      const diagnostics = source === undefined
        ? [`${entry.file} was not read`]
        : [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((diagnostic) => {
            const { line } = diagnostic.start === undefined ? { line: -1 } : source.getLineAndCharacterOfPosition(diagnostic.start)
            const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
            return `${locate(entry, line + 1)}: TS${diagnostic.code} ${text}`
          })
      results.set(entry, diagnostics)
    }
  }
  return results
}

export interface BlockRun {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  /** What the epilogue reported with `report()`, parsed. */
  result: unknown
}

export const RESULT_MARK = 'README_RESULT '

/**
 * Run one assembled file in its own Node process through tsx (which honours tsconfig `paths`), as
 * `npx tsx file.ts` would: its exit code and output are what a reader would see.
 */
export function runBlock(root: string, file: string, env: Record<string, string>, timeoutMs = 120_000): Promise<BlockRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', relative(root, file)], {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      const mark = stdout.split('\n').find((line) => line.startsWith(RESULT_MARK))
      resolve({
        code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
        signal: error?.signal ?? null,
        stdout,
        stderr,
        result: mark === undefined ? undefined : JSON.parse(mark.slice(RESULT_MARK.length)),
      })
    })
  })
}
