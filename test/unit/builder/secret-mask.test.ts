import { describe, expect, it } from 'vitest'
import { SecretMasker } from '../../../src/builder/secret-mask.js'

/** Feeds `text` to a stream masker in the given chunk sizes (cycled), returning what came out. */
function streamed (masker: SecretMasker, text: string, sizes: number[]): string {
  const stream = masker.stream()
  let out = ''
  let at = 0
  for (let i = 0; at < text.length; i++) {
    const size = sizes[i % sizes.length]!
    out += stream.push(text.slice(at, at + size))
    at += size
  }
  return out + stream.end()
}

describe('SecretMasker', () => {
  it('replaces every occurrence of every value with ***', () => {
    const masker = new SecretMasker(['sk-ant-123456', 'hunter2hunter2'])
    expect(masker.mask('key sk-ant-123456, again sk-ant-123456; pw hunter2hunter2.')).toBe('key ***, again ***; pw ***.')
  })

  it('leaves values shorter than the minimum alone, and text without secrets unchanged', () => {
    const masker = new SecretMasker(['abc', 'yes'])
    expect(masker.active).toBe(false)
    expect(masker.mask('abc yes')).toBe('abc yes')
    expect(new SecretMasker(['abcdef']).mask('nothing here')).toBe('nothing here')
  })

  it('masks overlapping occurrences of two values as one ***, showing neither', () => {
    const masker = new SecretMasker(['abcdef', 'defghi'])
    expect(masker.mask('x abcdefghi y')).toBe('x *** y')
    // One value inside another: the longer one is masked whole.
    expect(new SecretMasker(['secret', 'mysecretkey']).mask('mysecretkey secret')).toBe('*** ***')
    // A value overlapping itself.
    expect(new SecretMasker(['aaaaaa']).mask('baaaaaaab')).toBe('b***b')
  })

  it('masks a secret split across chunks at every split point', () => {
    const secret = 'sk-live-0123456789'
    const masker = new SecretMasker([secret])
    const text = `before ${secret} middle ${secret}${secret} after`
    for (let size = 1; size <= text.length; size++) {
      const out = streamed(masker, text, [size])
      expect(out, `chunks of ${size}`).toBe('before *** middle ****** after')
    }
  })

  it('streams overlapping secrets in uneven chunks to the same text as masking it whole', () => {
    const masker = new SecretMasker(['abcdef', 'defghi', 'aaaaaaa'])
    const text = 'x abcdefghi abcdef aaaaaaaaaa defghidefghi abcde end'
    for (const sizes of [[1], [2, 5], [3, 1, 7], [6], [13, 2]]) {
      const out = streamed(masker, text, sizes)
      expect(out, `chunks ${sizes.join(',')}`).toBe(masker.mask(text))
      expect(out).not.toContain('abcdef')
      expect(out).not.toContain('defghi')
    }
  })

  it('streams text made of secret fragments, in random chunks, to what masking it whole gives', () => {
    const secrets = ['abcabd', 'bdabca', 'xyzxyzxy']
    const masker = new SecretMasker(secrets)
    let seed = 7
    const random = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
    const pieces = [...secrets, 'ab', 'ca', 'bd', 'x', 'yz', ' ', 'q']
    for (let round = 0; round < 300; round++) {
      let text = ''
      while (text.length < 60) text += pieces[random(pieces.length)]!
      const sizes = [1 + random(9), 1 + random(9), 1 + random(9)]
      expect(streamed(masker, text, sizes), text).toBe(masker.mask(text))
    }
  })

  it('holds back only a tail that could start a secret', () => {
    const stream = new SecretMasker(['sk-0123456789']).stream()
    expect(stream.push('line one\n')).toBe('line one\n')
    expect(stream.push('key: sk-01')).toBe('key: ')
    expect(stream.push('2 is not it\n')).toBe('sk-012 is not it\n')
    expect(stream.push('tail sk')).toBe('tail ')
    expect(stream.end()).toBe('sk')
  })

  it('passes chunks through unchanged when nothing is masked', () => {
    const stream = new SecretMasker([]).stream()
    expect(stream.push('abc')).toBe('abc')
    expect(stream.end()).toBe('')
  })
})
