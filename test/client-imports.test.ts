// The client's files, compiled as `npm run build` compiles them, import nothing at run time but
// socket.io-client and each other (relative `.js` paths that a browser resolves): no fastify, no
// socket.io server, no schemas (those are types only), so a page needs an import map of two entries.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const CLIENT_DIR = fileURLToPath(new URL('../src/client/', import.meta.url))
const CONFIG = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL('../tsconfig.build.json', import.meta.url)), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')) },
})!

/** Every module specifier of the JavaScript that TypeScript emits for `file`. */
function runtimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8')
  const { outputText } = ts.transpileModule(source, { compilerOptions: CONFIG.options, fileName: file })
  const emitted = ts.createSourceFile('out.js', outputText, ts.ScriptTarget.Latest)
  const specifiers: string[] = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specifiers.push(node.moduleSpecifier.text)
    }
    if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      specifiers.push(node.arguments[0] && ts.isStringLiteral(node.arguments[0]) ? node.arguments[0].text : '<computed>')
    }
    ts.forEachChild(node, visit)
  }
  visit(emitted)
  return specifiers
}

t.test('src/client imports only socket.io-client and its own files at run time', async (t) => {
  const files = readdirSync(CLIENT_DIR).filter((name) => name.endsWith('.ts'))
  t.ok(files.includes('index.ts'))
  const siblings = new Set(files.map((name) => `./${name.replace(/\.ts$/, '.js')}`))
  const seen = new Set<string>()
  for (const name of files) {
    for (const specifier of runtimeImports(CLIENT_DIR + name)) {
      seen.add(specifier)
      t.ok(specifier === 'socket.io-client' || siblings.has(specifier), `${name} imports ${specifier}`)
    }
  }
  t.ok(seen.has('socket.io-client'), 'socket.io-client is imported (the check sees imports at all)')
  t.notOk([...seen].some((specifier) => /fastify|^socket\.io$|schemas|typebox/.test(specifier)), 'no server module, no schemas at run time')
})
