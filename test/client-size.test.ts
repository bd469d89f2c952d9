// The client's own code, bundled and minified as an app would ship it (socket.io-client left
// out: the app has it anyway), must stay at most 4 KiB gzipped.
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import t from 'tap'

const LIMIT_BYTES = 4096
const ENTRY = fileURLToPath(new URL('../src/client/index.ts', import.meta.url))

t.test('the client is at most 4 KiB minified and gzipped, without socket.io-client', async (t) => {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['socket.io-client'],
    write: false,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]!.contents
  const gzipped = gzipSync(code).byteLength
  t.comment(`client: ${code.byteLength} bytes minified, ${gzipped} bytes gzipped (limit ${LIMIT_BYTES})`)
  t.ok(gzipped <= LIMIT_BYTES, `${gzipped} bytes gzipped, at most ${LIMIT_BYTES}`)
  t.notMatch(new TextDecoder().decode(code), /from"(?!socket\.io-client")/, 'it imports nothing but socket.io-client')
})
