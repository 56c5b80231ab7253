import { describe, expect, it } from 'vitest'
import { checkEntryName } from '../../../src/git/path-safety.js'
import { UnsafePathError } from '../../../src/git/errors.js'

/** Names as stored in trees: latin1 strings, one char per byte. */
const utf8AsLatin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1')

describe('checkEntryName', () => {
  it.each([
    'README.md',
    'a',
    '...',
    '.gitignore',
    '.gitmodules',
    '.github',
    'git',
    'x.git',
    '.git-foo',
    'git~2',
    'foo~1',
    'name with spaces',
    ' leading-space',
    'trailing-dot.',
    '-dash',
    utf8AsLatin1('ünïcødé-名前'),
    // a backslash is an ordinary byte in a tree, as for git's fsck; git refuses it at checkout on Windows
    'a\\b'
  ])('accepts %j', (name) => {
    expect(() => { checkEntryName(name) }).not.toThrow()
  })

  it.each([
    ['', 'empty'],
    ['.', 'dot'],
    ['..', 'dot-dot'],
    ['.git', '.git'],
    ['.GIT', 'upper case'],
    ['.Git', 'mixed case'],
    ['.gIt', 'mixed case'],
    ['.git.', 'trailing dot (stripped by Windows)'],
    ['.git ', 'trailing space (stripped by Windows)'],
    ['.git. . ', 'trailing dots and spaces'],
    ['.GIT..', 'upper case with trailing dots'],
    ['git~1', '8.3 short name'],
    ['GIT~1', '8.3 short name, upper case'],
    ['Git~1.', '8.3 short name with trailing dot'],
    ['a/b', 'slash'],
    ['/', 'lone slash'],
    ['/etc', 'absolute'],
    ['../x', 'escaping path'],
    ['.git/config', 'path into .git'],
    ['.git::$INDEX_ALLOCATION', 'NTFS alternate data stream'],
    ['git~1:stream', 'NTFS short name with a stream'],
    [utf8AsLatin1('.g\u200cit'), 'HFS+ ignorable code point'],
    [utf8AsLatin1('.GI\ufeffT'), 'HFS+ ignorable code point, upper case'],
    ['a\0b', 'NUL'],
    ['\0', 'lone NUL']
  ])('rejects %j (%s)', (name) => {
    let caught: unknown
    try {
      checkEntryName(name)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(UnsafePathError)
    expect((caught as Error).name).toBe('UnsafePathError')
    expect((caught as UnsafePathError).entryName).toBe(name)
  })
})
