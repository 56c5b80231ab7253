import { InvalidMessageError } from './errors.js'
import { MAX_CBOR_ARRAY_ITEMS, MAX_CBOR_DEPTH as MAX_DEPTH, MAX_CBOR_MAP_ENTRIES } from './constants.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Checks that `bytes` is exactly one item of the plain CBOR subset gitmesh speaks, before cbor-x
 * sees it: definite lengths only, no tags (cbor-x would silently unwrap some, such as typed-array
 * tags), text that is valid UTF-8 (cbor-x would substitute U+FFFD), no duplicate map keys
 * (cbor-x would keep the last), and nothing after the item.
 */
export function checkPlainCbor (bytes: Uint8Array): void {
  const end = scanItem(bytes, 0, 0)
  if (end !== bytes.byteLength) throw new InvalidMessageError(`malformed CBOR: ${bytes.byteLength - end} bytes after the message`)
}

function fail (reason: string): never {
  throw new InvalidMessageError(`malformed CBOR: ${reason}`)
}

/** Reads an item's head; returns [major type, argument, offset after the head]. */
function readHead (bytes: Uint8Array, pos: number): [number, number, number] {
  if (pos >= bytes.byteLength) fail('truncated')
  const initial = bytes[pos]!
  const major = initial >> 5
  const info = initial & 0x1f
  if (info < 24) return [major, info, pos + 1]
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (size === 0) fail(info === 31 ? 'indefinite lengths are not allowed' : `reserved additional information ${info}`)
  if (pos + 1 + size > bytes.byteLength) fail('truncated')
  let value = 0
  for (let i = 0; i < size; i++) value = value * 256 + bytes[pos + 1 + i]!
  return [major, value, pos + 1 + size]
}

function scanItem (bytes: Uint8Array, pos: number, depth: number): number {
  if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH}`)
  const [major, argument, next] = readHead(bytes, pos)
  switch (major) {
    case 0: case 1: case 7:
      return next
    case 2: case 3: {
      const end = next + argument
      if (end > bytes.byteLength) fail('truncated string')
      if (major === 3) {
        try {
          utf8.decode(bytes.subarray(next, end))
        } catch {
          fail('text is not valid UTF-8')
        }
      }
      return end
    }
    case 4: {
      if (argument > MAX_CBOR_ARRAY_ITEMS) fail(`array of ${argument} items exceeds ${MAX_CBOR_ARRAY_ITEMS}`)
      if (argument > bytes.byteLength - next) fail('array longer than the message')
      let at = next
      for (let i = 0; i < argument; i++) at = scanItem(bytes, at, depth + 1)
      return at
    }
    case 5: {
      if (argument > MAX_CBOR_MAP_ENTRIES) fail(`map of ${argument} entries exceeds ${MAX_CBOR_MAP_ENTRIES}`)
      if (argument * 2 > bytes.byteLength - next) fail('map longer than the message')
      const keys = new Set<string>()
      let at = next
      for (let i = 0; i < argument; i++) {
        const keyEnd = scanItem(bytes, at, depth + 1)
        const key = Buffer.from(bytes.buffer, bytes.byteOffset + at, keyEnd - at).toString('latin1')
        if (keys.has(key)) fail('duplicate map key')
        keys.add(key)
        at = scanItem(bytes, keyEnd, depth + 1)
      }
      return at
    }
    default:
      return fail('tags are not allowed')
  }
}
