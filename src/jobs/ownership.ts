import picomatch from 'picomatch'

// The globs are checked at the public edges (src/jobs/task-options.ts): here they are trusted.

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
