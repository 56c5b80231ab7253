import { MAX_SETUP_KEY_PATH_CHARS } from './constants.js'

/**
 * Why `file` cannot be a `setupKey` entry, or undefined when it can: a path relative to the
 * repository's top, in git's form (`/` between segments), that stays inside the worktree and out
 * of `.git`. Checked where gitmesh.json is read and again on the wire (the builder reads these
 * files from a worktree of a peer's snapshot).
 */
export function setupKeyPathProblem (file: string): string | undefined {
  if (file.length === 0) return 'is empty'
  if (file.length > MAX_SETUP_KEY_PATH_CHARS) return `is longer than ${MAX_SETUP_KEY_PATH_CHARS} characters`
  if (file.includes('\0')) return 'contains a NUL'
  if (file.startsWith('/')) return 'is absolute: name a path relative to the repository, such as "package-lock.json"'
  if (file.includes('\\')) return 'contains a backslash: separate folders with "/"'
  const segments = file.split('/')
  if (segments.some(segment => segment === '..')) return 'has a ".." segment: name a file inside the repository'
  if (segments.some(segment => segment === '' || segment === '.')) return 'has an empty or "." segment: write it as git does, such as "app/package-lock.json"'
  if (segments.some(segment => segment.toLowerCase() === '.git')) return 'is inside .git'
  return undefined
}
