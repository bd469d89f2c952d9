// The browser gets `fastify-agent-events/client` as plain ES modules, with no bundler and no build
// step: each file of src/client/ is transpiled on its own, as `tsc` does for dist/ (types dropped,
// relative `.ts` imports rewritten to `.js`), and served under `/client/`. The page's import map
// points `fastify-agent-events/client` at `/client/index.js` and `socket.io-client` at the file
// that Socket.IO serves on the plugin's path; the modules import nothing else.
import { readdir, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'

/** Where the client's sources are, in this repository. */
export const CLIENT_SOURCES = fileURLToPath(new URL('../../src/client/', import.meta.url))
/** Where the page finds them: `/client/index.js` is `src/client/index.ts`. */
export const CLIENT_PREFIX = '/client/'

/**
 * Every `.ts` file under `dir`, transpiled: a map from its URL path under `CLIENT_PREFIX`
 * (`index.js`, `sub/x.js`) to its JavaScript.
 */
export async function transpileClientModules(dir: string = CLIENT_SOURCES): Promise<Map<string, string>> {
  // TypeScript is loaded only when the page first asks for the client.
  const { default: ts } = await import('typescript')
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  const modules = new Map<string, string>()
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue
    const file = join(entry.parentPath, entry.name)
    const { outputText } = ts.transpileModule(await readFile(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        // The same two settings as tsconfig.json: `import type` is dropped whole, and `./x.ts`
        // becomes `./x.js`, which the browser resolves beside the importing module.
        verbatimModuleSyntax: true,
        rewriteRelativeImportExtensions: true,
      },
    })
    modules.set(relative(dir, file).split(sep).join('/').replace(/\.ts$/, '.js'), outputText)
  }
  return modules
}

/** Serve the client's modules under `CLIENT_PREFIX`, transpiled once, on the first request. */
export function serveClientModules(app: FastifyInstance, dir: string = CLIENT_SOURCES): void {
  let modules: Promise<Map<string, string>> | undefined
  app.get<{ Params: { '*': string } }>(`${CLIENT_PREFIX}*`, { schema: { hide: true } }, async (req, reply) => {
    modules ??= transpileClientModules(dir).catch((error: unknown) => {
      modules = undefined // the next request tries again
      throw error
    })
    // Looked up by name in what was transpiled: no path from the URL reaches the file system.
    const code = (await modules).get(req.params['*'])
    if (code === undefined) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'No such module' })
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(code)
  })
}
