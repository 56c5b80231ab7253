import type { OutputMasker } from '../process/run-command.js'
import { MIN_MASKED_SECRET_CHARS, SECRET_MASK } from './constants.js'

/**
 * Replaces every occurrence of a secret value with `***`, as CI systems do. Values shorter than
 * `MIN_MASKED_SECRET_CHARS` are not masked (they would blank out common words). Overlapping
 * occurrences, of one value or of several, become a single `***`, so neither value shows
 * through the other; adjacent ones are a `***` each. Best effort: a command that transforms a value (base64, reversed,
 * one character per line) defeats it.
 *
 * @example
 * const masker = new SecretMasker(['sk-123456'])
 * masker.mask('key=sk-123456') // 'key=***'
 */
export class SecretMasker {
  readonly #secrets: string[]
  /** Length of the longest masked value (0 when nothing is masked). */
  readonly maxLength: number

  constructor (values: Iterable<string>, minChars = MIN_MASKED_SECRET_CHARS) {
    this.#secrets = [...new Set([...values].filter(value => value.length >= minChars))]
    this.maxLength = Math.max(0, ...this.#secrets.map(value => value.length))
  }

  /** True when at least one value is masked. */
  get active (): boolean {
    return this.#secrets.length > 0
  }

  mask (text: string): string {
    if (!this.active) return text
    return render(text, this.#ranges(text), text.length, false).text
  }

  /**
   * A masker for one command's output. It holds back only a tail that could be the start of a
   * secret (so live output is not delayed otherwise), until the next chunk shows whether it is.
   */
  stream (): OutputMasker {
    let held = ''
    // Leading characters of `held` that belong to a masked range whose `***` already went out.
    let carry = 0
    const emit = (cut: (buffer: string) => number): string => {
      const ranges = this.#ranges(held)
      if (carry > 0) ranges.unshift([0, carry])
      const merged = mergeRanges(ranges)
      const at = cut(held)
      const out = render(held, merged, at, carry > 0)
      carry = out.carry
      held = held.slice(at)
      return out.text
    }
    return {
      push: chunk => {
        if (!this.active) return chunk
        held += chunk
        return emit(buffer => this.#safeCut(buffer))
      },
      end: () => {
        if (!this.active) return ''
        const text = emit(buffer => buffer.length)
        held = ''
        carry = 0
        return text
      }
    }
  }

  /** Every occurrence of every secret in `text`, overlapping ones included, as [start, end) pairs. */
  #ranges (text: string): Array<[number, number]> {
    const ranges: Array<[number, number]> = []
    for (const secret of this.#secrets) {
      for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) ranges.push([at, at + secret.length])
    }
    return ranges
  }

  /**
   * Where `buffer` can be cut: everything before it is final. An occurrence that is not yet whole
   * must start at a position whose rest of the buffer is a proper prefix of a secret, so the
   * cut is the first such position (or the end, when there is none).
   */
  #safeCut (buffer: string): number {
    const from = Math.max(0, buffer.length - this.maxLength + 1)
    for (let at = from; at < buffer.length; at++) {
      const rest = buffer.length - at
      if (this.#secrets.some(secret => secret.length > rest && secret.startsWith(buffer.slice(at)))) return at
    }
    return buffer.length
  }
}

function mergeRanges (ranges: Array<[number, number]>): Array<[number, number]> {
  ranges.sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const [start, end] of ranges) {
    const last = merged.at(-1)
    if (last !== undefined && start < last[1]) last[1] = Math.max(last[1], end)
    else merged.push([start, end])
  }
  return merged
}

/**
 * The text before `cut` with the ranges masked; `continued`: the range at 0 already printed its
 * `***`. `carry`: how far a range that crosses `cut` reaches past it (those characters are masked
 * already, wherever the next chunk ends).
 */
function render (text: string, ranges: Array<[number, number]>, cut: number, continued: boolean): { text: string, carry: number } {
  const merged = continued ? ranges : mergeRanges(ranges)
  let out = ''
  let at = 0
  let carry = 0
  for (const [start, end] of merged) {
    const printed = continued && start === 0
    // A range that already printed its `***` keeps masking even when nothing of it goes out now.
    if (printed && end > cut) carry = end - cut
    if (start >= cut) break
    out += text.slice(at, start)
    if (!printed) out += SECRET_MASK
    at = Math.min(end, cut)
    if (end > cut) carry = end - cut
  }
  if (at < cut) out += text.slice(at, cut)
  return { text: out, carry }
}
