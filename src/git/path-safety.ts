import { UnsafePathError } from './errors.js'

/**
 * Checks one tree entry name received from a peer before anything is written to a working tree.
 * Names are binary strings (latin1: one char per byte) exactly as stored in the tree.
 *
 * Refused, as git's own fsck does (`index-pack --fsck-objects` applies the same rule to every
 * received pack): empty names, `.` and `..`, names that are `.git` in any case (also with the
 * trailing dots or spaces that Windows strips, and the 8.3 short name `git~1`), and names
 * carrying `/` or NUL. A backslash is an ordinary character in a git tree; git's checkout
 * protections handle it on Windows.
 */
export function checkEntryName (name: string): void {
  if (name.length === 0) {
    throw new UnsafePathError(name, 'empty name')
  }
  if (name === '.' || name === '..') {
    throw new UnsafePathError(name, 'relative path component')
  }
  if (name.includes('/')) {
    throw new UnsafePathError(name, 'contains a slash')
  }
  if (name.includes('\0')) {
    throw new UnsafePathError(name, 'contains NUL')
  }
  const folded = name.toLowerCase().replace(/[. ]+$/, '')
  if (folded === '.git' || folded === 'git~1') {
    throw new UnsafePathError(name, 'names the .git directory')
  }
}

