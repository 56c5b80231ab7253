/**
 * A minimal, independent reader of RFC 8949 CBOR that prints diagnostic notation (RFC 8949 §8,
 * with the encoding indicators of §8.1). It shares no code with cbor-x, so the test vectors'
 * `diagnostic` fields are checked against the bytes by a second implementation.
 */
export function cborToDiagnostic (bytes: Uint8Array): string {
  return read(bytes).text
}

/** The tag numbers (major type 6) that occur anywhere in one CBOR item, outermost first. */
export function cborTags (bytes: Uint8Array): number[] {
  return read(bytes).tags
}

interface Reader { bytes: Uint8Array, offset: number, tags: number[] }

function read (bytes: Uint8Array): { text: string, tags: number[] } {
  const reader: Reader = { bytes, offset: 0, tags: [] }
  const text = item(reader)
  if (reader.offset !== bytes.byteLength) throw new Error(`${bytes.byteLength - reader.offset} bytes after the item`)
  return { text, tags: reader.tags }
}

function take (reader: Reader, count: number): Uint8Array {
  if (reader.offset + count > reader.bytes.byteLength) throw new Error('truncated')
  const out = reader.bytes.subarray(reader.offset, reader.offset + count)
  reader.offset += count
  return out
}

/** The argument of an item head and its encoding indicator ('' when preferred). */
function argument (reader: Reader, info: number): { value: bigint, indicator: string } {
  if (info < 24) return { value: BigInt(info), indicator: '' }
  if (info > 27) throw new Error(`reserved additional information ${info}`)
  const width = 1 << (info - 24)
  let value = 0n
  for (const byte of take(reader, width)) value = (value << 8n) | BigInt(byte)
  const preferred = value < 24n ? 23 : value < 0x100n ? 24 : value < 0x10000n ? 25 : value < 0x100000000n ? 26 : 27
  return { value, indicator: info === preferred ? '' : `_${info - 24}` }
}

function item (reader: Reader): string {
  const initial = take(reader, 1)[0]!
  const major = initial >> 5
  const info = initial & 0x1f
  if (info === 31) return indefinite(reader, major)
  if (major === 7) return simple(reader, info)
  const { value, indicator } = argument(reader, info)
  switch (major) {
    case 0: return `${value}${indicator}`
    case 1: return `${-1n - value}${indicator}`
    case 2: return `h'${Buffer.from(take(reader, Number(value))).toString('hex')}'${indicator}`
    case 3: return `${JSON.stringify(new TextDecoder('utf-8', { fatal: true }).decode(take(reader, Number(value))))}${indicator}`
    case 4: {
      const items: string[] = []
      for (let i = 0n; i < value; i++) items.push(item(reader))
      return `[${indicator === '' ? '' : indicator + ' '}${items.join(', ')}]`
    }
    case 5: {
      const entries: string[] = []
      for (let i = 0n; i < value; i++) entries.push(`${item(reader)}: ${item(reader)}`)
      return `{${indicator === '' ? '' : indicator + ' '}${entries.join(', ')}}`
    }
    default:
      reader.tags.push(Number(value))
      return `${value}${indicator}(${item(reader)})`
  }
}

function indefinite (reader: Reader, major: number): string {
  const isBreak = (): boolean => {
    if (reader.bytes[reader.offset] !== 0xff) return false
    reader.offset++
    return true
  }
  const parts: string[] = []
  if (major === 4 || major === 2 || major === 3) {
    while (!isBreak()) parts.push(item(reader))
    return major === 4 ? `[_ ${parts.join(', ')}]` : `(_ ${parts.join(', ')})`
  }
  if (major === 5) {
    while (!isBreak()) parts.push(`${item(reader)}: ${item(reader)}`)
    return `{_ ${parts.join(', ')}}`
  }
  throw new Error(`major type ${major} cannot be indefinite`)
}

function simple (reader: Reader, info: number): string {
  if (info < 24) return ({ 20: 'false', 21: 'true', 22: 'null', 23: 'undefined' } as Record<number, string>)[info] ?? `simple(${info})`
  if (info === 24) return `simple(${take(reader, 1)[0]!})`
  const view = (width: number): DataView => {
    const raw = take(reader, width)
    return new DataView(raw.buffer, raw.byteOffset, width)
  }
  const float = info === 25 ? halfToNumber(view(2).getUint16(0)) : info === 26 ? view(4).getFloat32(0) : info === 27 ? view(8).getFloat64(0) : undefined
  if (float === undefined) throw new Error(`unexpected simple/float additional information ${info}`)
  const text = Number.isNaN(float) ? 'NaN' : Number.isFinite(float) ? (Number.isInteger(float) ? `${float}.0` : `${float}`) : float > 0 ? 'Infinity' : '-Infinity'
  return `${text}_${info - 24}`
}

function halfToNumber (half: number): number {
  const exponent = (half >> 10) & 0x1f
  const mantissa = half & 0x3ff
  const sign = (half & 0x8000) === 0 ? 1 : -1
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN
  return sign * (mantissa + 1024) * 2 ** (exponent - 25)
}
