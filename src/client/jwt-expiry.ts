/**
 * The `exp` of a JWT in milliseconds, read without verifying the token (the server verifies it):
 * the client only needs to know when to refresh. `undefined` when the token has none.
 */
export function tokenExpiresAt(token: string | undefined): number | undefined {
  try {
    const payload = token!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')
    const { exp } = JSON.parse(atob(payload)) as { exp?: unknown }
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}
