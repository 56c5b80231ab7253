import { UnsafePathError } from './errors.js'

/** Code points HFS+ ignores when it compares names (git's is_hfs_dotgit list). */
const HFS_IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g

/**
 * True when a filesystem could resolve `name` (raw bytes as latin1) to the .git directory, by
 * git's own rules: `.git` in any case; on NTFS also with trailing dots or spaces, an alternate
 * data stream (`.git::$INDEX_ALLOCATION`) or as the 8.3 short name `git~1`; on HFS+ also with
 * ignorable Unicode code points inside (`.g\u200cit`).
 */
function namesDotGit (name: string): boolean {
  const ntfs = /^(?:\.git|git~1)[. ]*(?::.*)?$/i
  if (ntfs.test(name)) return true
  const utf8 = Buffer.from(name, 'latin1').toString('utf8')
  return utf8.replace(HFS_IGNORABLE, '').toLowerCase() === '.git'
}

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
  if (namesDotGit(name)) {
    throw new UnsafePathError(name, 'names the .git directory')
  }
}

