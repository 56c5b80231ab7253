import picomatch from 'picomatch'
import { InvalidPromptError } from './errors.js'
import { MAX_OWNS_GLOBS } from './constants.js'

/** Checks `owns:` globs: relative, no `..`, parseable. */
export function checkOwnsGlobs (globs: readonly string[]): void {
  if (globs.length > MAX_OWNS_GLOBS) throw new InvalidPromptError(`at most ${MAX_OWNS_GLOBS} owns globs`)
  for (const glob of globs) {
    if (glob.trim() === '') throw new InvalidPromptError('an owns glob is empty')
    if (glob.startsWith('/')) throw new InvalidPromptError(`owns glob ${JSON.stringify(glob)} must be relative to the repository`)
    if (glob.startsWith('!')) throw new InvalidPromptError(`owns glob ${JSON.stringify(glob)}: negations are not allowed (globs are OR-ed: one negation would allow nearly everything)`)
    if (glob.split('/').includes('..')) throw new InvalidPromptError(`owns glob ${JSON.stringify(glob)} must not contain '..'`)
    try {
      picomatch.makeRe(glob)
    } catch (err) {
      throw new InvalidPromptError(`owns glob ${JSON.stringify(glob)} is not valid: ${(err as Error).message}`)
    }
  }
}

/** The paths no glob matches; none when there are no globs (the job may change anything). */
export function pathsOutside (paths: readonly string[], globs: readonly string[]): string[] {
  if (globs.length === 0) return []
  const matches = picomatch([...globs], { dot: true })
  return paths.filter(path => !matches(path))
}

/**
 * Whether two sets of `owns:` globs may claim a common path. Exact glob intersection is
 * undecidable in general, so this is conservative: globs overlap when one's fixed leading
 * directory contains the other's, or one matches the other's fixed part. A job without globs
 * claims nothing in particular, so it overlaps nothing here (what its result changed may still).
 */
export function ownsOverlap (a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return false
  const base = (glob: string): string => picomatch.scan(glob).base
  for (const x of a) {
    for (const y of b) {
      const bx = base(x)
      const by = base(y)
      if (bx === '' || by === '' || within(bx, by) || within(by, bx)) return true
      if (picomatch(x, { dot: true })(y) || picomatch(y, { dot: true })(x)) return true
    }
  }
  return false
}

function within (inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`)
}
