import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto'

// Tokens built byte by byte with node:crypto, so that a test can make exactly the JWT an attacker
// would send, independently of the library under test.

export const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url')

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

export type JwtAlgorithm = 'none' | 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS512'

/** `header.payload` with both parts JSON-encoded; a string part is taken as already encoded. */
export function unsigned(header: Record<string, unknown> | string, payload: unknown): string {
  const encode = (part: unknown): string => (typeof part === 'string' ? part : b64url(JSON.stringify(part)))
  return `${encode(header)}.${encode(payload)}`
}

export function hmac(input: string, secret: string | Buffer, bits: 256 | 384 | 512 = 256): string {
  return createHmac(`sha${bits}`, secret).update(input).digest('base64url')
}

export function rsa(input: string, privateKey: KeyObject | string, bits: 256 | 512 = 256): string {
  return createSign(`RSA-SHA${bits}`).update(input).sign(privateKey, 'base64url')
}

/** An HS256 JWT for `claims`, with header fields overridable. */
export function hs256(claims: Record<string, unknown>, secret: string | Buffer, header: Record<string, unknown> = {}): string {
  const input = unsigned({ alg: 'HS256', typ: 'JWT', ...header }, claims)
  return `${input}.${hmac(input, secret)}`
}

export function rs256(claims: Record<string, unknown>, privateKey: KeyObject | string, header: Record<string, unknown> = {}): string {
  const input = unsigned({ alg: 'RS256', typ: 'JWT', ...header }, claims)
  return `${input}.${rsa(input, privateKey)}`
}

export interface RsaPair {
  privatePem: string
  publicPem: string
}

export function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}
