/** Limits and defaults of the git layer. Every figure is listed in docs/limits.md. */

/** Length of a SHA-1 object id in bytes; gitmesh supports SHA-1 repositories only. */
export const OID_BYTES = 20

/** Largest tree we parse in-process (bytes); real trees are far smaller, so a bigger one is hostile. */
export const MAX_TREE_BYTES = 16 * 1024 * 1024

/** Largest single git command output we buffer in memory (bytes). */
export const MAX_GIT_OUTPUT_BYTES = 256 * 1024 * 1024

/** Identity written into snapshot commits, so snapshots never depend on the user's git config. */
export const SNAPSHOT_IDENTITY = {
  name: 'gitmesh',
  email: 'gitmesh@localhost'
}

/**
 * gitmesh's own folder at the top of a repository (watched prompt files live in `prompts/`).
 * Snapshots take it as the index holds it: committed or staged files stay, untracked files and
 * unstaged edits are left out, so a job's worktree never holds every other task's prompt.
 */
export const SNAPSHOT_EXCLUDED_DIR = '.gitmesh'

/** Message of a snapshot commit. */
export const SNAPSHOT_MESSAGE = 'gitmesh snapshot\n'

/** Symbolic refs followed when reading HEAD before giving up (git's own limit is 5). */
export const MAX_SYMREF_DEPTH = 5

/** Conflict-marker labels of a working-tree merge: `<<<<<<< working-tree`, `||||||| snapshot`, `>>>>>>> job`. */
export const MERGE_LABELS = { ours: 'working-tree', base: 'snapshot', theirs: 'job' } as const

/** Suffix of the file beside an unmergeable (binary, symlink) conflict that holds the job's version. */
export const JOB_COPY_SUFFIX = '.gitmesh-job'

/** Bytes git looks at for a NUL to call a blob binary (xdiff's `buffer_is_binary`); merge-file refuses those. */
export const BINARY_SNIFF_BYTES = 8000

/** Largest total length of path arguments given to one git command (bytes), well under any ARG_MAX. */
export const MAX_PATH_ARGUMENT_BYTES = 64 * 1024

/**
 * Largest object accepted from a peer, whole or as the result of a delta, on every path (GitHub
 * refuses files over 100 MiB too): index-pack builds a delta's result in memory, and a few
 * kilobytes of delta can describe gigabytes.
 */
export const MAX_OBJECT_BYTES = 100 * 1024 * 1024

/**
 * Pack entries up to this size are inflated in one call when checking a received pack; larger
 * ones (or ones cut by a chunk boundary) are inflated as a stream, so the check holds little.
 */
export const PACK_SCAN_INFLATE_SYNC_BYTES = 256 * 1024

/** Output chunk of that streaming inflate (zlib's default is 16 KiB): the output is only counted, and fewer chunks cost less. */
export const PACK_SCAN_INFLATE_CHUNK_BYTES = 256 * 1024

/** Packs of at most this many objects are built and read in-process instead of by git. */
export const SMALL_PACK_OBJECTS = 64

/** …and of at most this many bytes of object content (and of pack data, received). */
export const SMALL_PACK_BYTES = 1024 * 1024

/**
 * Commits an ancestry check walks in-process (isomorphic-git, loose objects only) before it asks
 * `git merge-base`, which uses the commit-graph and maps packs: a want a few commits below a
 * granted root is answered without a process start, and a deep or packed history costs at most
 * this many loose reads more than git alone: a loose read takes about 0.5 ms (isomorphic-git
 * inflates and re-hashes each commit), a `git merge-base` about 6 ms (measured on the project's
 * machine), so the walk stays in-process only while it is clearly cheaper. A want is almost
 * always a granted root itself or its parent (the user's HEAD below a snapshot).
 */
export const LOOSE_ANCESTRY_COMMITS = 4
