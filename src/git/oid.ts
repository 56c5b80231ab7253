/** Helpers for 40-hex SHA-1 object ids. */
export const OID_PATTERN = /^[0-9a-f]{40}$/

export function isOid (value: string): boolean {
  return OID_PATTERN.test(value)
}

export function oidToBytes (oid: string): Uint8Array {
  return Uint8Array.from(Buffer.from(oid, 'hex'))
}

export function bytesToOid (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
