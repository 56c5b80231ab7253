import { DiskFullError, GitCommandError } from './errors.js'

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT'])
const FULL_TEXT = /No space left on device|Disk quota exceeded/i

/**
 * The error as a DiskFullError about `dir` when it says the disk is full — a write of ours
 * (ENOSPC, EDQUOT) or a git command's ("No space left on device") — else undefined.
 */
export function asDiskFull (err: unknown, dir: string): DiskFullError | undefined {
  if (err instanceof DiskFullError) return err
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code !== undefined && FULL_CODES.has(code)) return new DiskFullError(dir, code)
  if (err instanceof GitCommandError && FULL_TEXT.test(err.stderr)) return new DiskFullError(dir, `git ${err.args[0] ?? ''}: ${FULL_TEXT.exec(err.stderr)![0]}`)
  return undefined
}
