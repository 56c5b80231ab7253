/**
 * Deterministic, source-like text for synthetic corpora. What matters for the bench is how the
 * text compresses: uniformly random letters would barely compress and repeated words would
 * compress a hundredfold, and either would skew the bytes-on-the-wire figures.
 */

/** Mulberry32: tiny, fast, and deterministic for a seed, which is all a corpus needs. */
function prng (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ('const let function return export import from async await if else for while new this ' +
  'value result error options index length buffer stream object commit tree blob hash peer node ' +
  'request response frame limit signal start stop state queue job builder author snapshot').split(' ')
/** Parts that identifiers are made of, camelCase, as real names are made of words. */
const NAME_PARTS = ('get set make read write open close find load save parse check update remove add ' +
  'count size offset cursor entry item list map table cache store key name path file dir mode ' +
  'user peer node job task slot grant root want have pack delta chunk block page line token ' +
  'event handler listener timer retry budget prompt result error status config default max min').split(' ')

/** Number of distinct identifiers a synthetic corpus uses, about what a mid-sized codebase has. */
const IDENTIFIER_POOL = 3000

function randomIdentifier (random: () => number): string {
  const parts = Array.from({ length: 1 + Math.floor(random() * 3) }, () => NAME_PARTS[Math.floor(random() * NAME_PARTS.length)]!)
  return parts.map((part, i) => i === 0 ? part : part[0]!.toUpperCase() + part.slice(1)).join('')
}

/**
 * Source-like text: keywords, a few names the file uses over and over (its locals) and names
 * from the shared pool, skewed so some are common everywhere. It compresses about as well as
 * real code: per-file zlib ≈ 2.8×, where lodash's published files give 3.0×.
 */
function sourceText (random: () => number, identifiers: readonly string[], bytes: number): string {
  const pick = (n: number): number => Math.floor(random() * n)
  // Squaring skews the choice towards the start of the pool, as real names are skewed.
  const shared = (): string => identifiers[Math.floor(random() ** 2 * identifiers.length)]!
  const locals = Array.from({ length: 6 + pick(10) }, shared)
  const parts: string[] = []
  let size = 0
  while (size < bytes) {
    const tokens: string[] = [' '.repeat(2 * pick(4))]
    const count = 3 + pick(8)
    for (let i = 0; i < count; i++) {
      const kind = random()
      if (kind < 0.45) tokens.push(WORDS[pick(WORDS.length)]!)
      else if (kind < 0.82) tokens.push(locals[pick(locals.length)]!)
      else if (kind < 0.95) tokens.push(shared())
      else tokens.push(String(pick(1000)))
    }
    const line = tokens.join(' ') + '\n'
    parts.push(line)
    size += line.length
  }
  return parts.join('').slice(0, bytes)
}

/** A seeded source of file contents: the same seed gives the same texts in the same order. */
export interface TextGenerator {
  /** A number in [0, 1) from the same sequence, for choices such as file sizes. */
  random: () => number
  /** The next file's contents, exactly `bytes` long (ASCII). */
  text: (bytes: number) => string
}

export function textGenerator (seed: number): TextGenerator {
  const random = prng(seed)
  const identifiers = Array.from({ length: IDENTIFIER_POOL }, () => randomIdentifier(random))
  return { random, text: (bytes) => sourceText(random, identifiers, bytes) }
}
