/**
 * Repositories the benchmark syncs: a synthetic one whose shape we control, and one made of real
 * published source (several versions of an npm package) so that compression and delta figures
 * reflect real code, not only generated text.
 */
import { spawn } from 'node:child_process'
import { access, appendFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { gitEnv, gitText } from '../git/git-process.js'
import { textGenerator } from './synthetic-text.js'

/**
 * Environment for every git the bench runs: the user's global and system config are ignored
 * (an alias, a hook path, `fetch.writeCommitGraph` or a credential helper would change what we
 * measure), and author, committer and dates are fixed so a corpus gets the same commit ids on
 * every machine and every run.
 */
export function benchGitEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return gitEnv({
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'gitmesh bench',
    GIT_AUTHOR_EMAIL: 'bench@gitmesh.invalid',
    GIT_COMMITTER_NAME: 'gitmesh bench',
    GIT_COMMITTER_EMAIL: 'bench@gitmesh.invalid',
    GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
    GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
    // No automatic gc or maintenance: it would start inside a timed fetch now and then.
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'gc.auto',
    GIT_CONFIG_VALUE_0: '0',
    GIT_CONFIG_KEY_1: 'maintenance.auto',
    GIT_CONFIG_VALUE_1: 'false',
    ...extra
  })
}

async function git (cwd: string, args: string[], signal?: AbortSignal): Promise<string> {
  return await gitText(args, { cwd, env: benchGitEnv(), signal })
}

export interface SyntheticRepoOptions {
  /** Number of files. @default 5000 */
  files?: number
  /** Subdirectories per directory. @default 8 */
  fanOut?: number
  /** Levels of subdirectories below the top; files go in the deepest level. @default 2 */
  depth?: number
  /** Smallest file size in bytes. @default 1024 */
  minFileBytes?: number
  /** Largest file size in bytes. @default 4096 */
  maxFileBytes?: number
  /** PRNG seed: the same seed and options give the same files and the same commit id. @default 1 */
  seed?: number
  signal?: AbortSignal
}

export interface SyntheticRepo {
  dir: string
  commit: string
  /** Paths of the files relative to `dir`, with `/` separators, in creation order. */
  files: string[]
}

/** Every directory path `fanOut` wide and `depth` deep, leaves only. */
function leafDirectories (fanOut: number, depth: number): string[] {
  let level = ['']
  for (let d = 0; d < depth; d++) {
    level = level.flatMap((parent) => Array.from({ length: fanOut }, (_, i) => path.posix.join(parent, `d${d}-${i}`)))
  }
  return level
}

/**
 * Creates `dir` as a git repository holding one commit of `files` generated files spread evenly
 * over a `fanOut`^`depth` directory tree. Files are written with fs and committed by one
 * `git add -A` and one `git commit`, which takes about a second for the default 5,000 files.
 */
export async function makeSyntheticRepo (dir: string, options: SyntheticRepoOptions = {}): Promise<SyntheticRepo> {
  const count = options.files ?? 5000
  const minBytes = options.minFileBytes ?? 1024
  const maxBytes = options.maxFileBytes ?? 4096
  const generator = textGenerator(options.seed ?? 1)
  const leaves = leafDirectories(options.fanOut ?? 8, options.depth ?? 2)
  await mkdir(dir, { recursive: true })
  await git(dir, ['init', '-q', '-b', 'main'], options.signal)
  await Promise.all(leaves.map(async (leaf) => await mkdir(path.join(dir, leaf), { recursive: true })))

  const files: string[] = []
  const contents: string[] = []
  for (let i = 0; i < count; i++) {
    files.push(path.posix.join(leaves[i % leaves.length]!, `file-${String(i).padStart(5, '0')}.ts`))
    contents.push(generator.text(minBytes + Math.floor(generator.random() * (maxBytes - minBytes + 1))))
  }
  // Batches keep the number of open file descriptors bounded.
  for (let start = 0; start < count; start += 128) {
    await Promise.all(files.slice(start, start + 128).map(async (file, j) => await writeFile(path.join(dir, file), contents[start + j]!)))
  }
  await git(dir, ['add', '-A'], options.signal)
  await git(dir, ['commit', '-q', '-m', `synthetic corpus: ${count} files`], options.signal)
  return { dir, commit: await git(dir, ['rev-parse', 'HEAD']), files }
}

/**
 * Appends a line to `relativePath` in `repoDir` and commits it on the current branch; returns the
 * new commit. The line names the parent commit, so every call changes the content even with the
 * fixed commit dates, and repeated calls never produce an already existing commit.
 */
export async function changeOneFile (repoDir: string, relativePath: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  const parent = await git(repoDir, ['rev-parse', 'HEAD'], options.signal)
  await appendFile(path.join(repoDir, relativePath), `// bench change after ${parent}\n`)
  await git(repoDir, ['commit', '-q', '-m', `change ${relativePath}`, '--', relativePath], options.signal)
  return await git(repoDir, ['rev-parse', 'HEAD'], options.signal)
}


/** lodash 4.17.17–4.17.21: about 1,050 published files per version, small changes between them. */
export const DEFAULT_NPM_CORPUS = {
  name: 'lodash',
  versions: ['4.17.17', '4.17.18', '4.17.19', '4.17.20', '4.17.21']
} as const

/** Time allowed for downloading all missing tarballs: generous, a registry can be slow. */
const NPM_PACK_TIMEOUT_MS = 5 * 60_000

export interface NpmPackageRepoOptions {
  /** Package name, possibly scoped. @default 'lodash' */
  name?: string
  /** Exact versions, committed in this order. @default 4.17.17 … 4.17.21 */
  versions?: readonly string[]
  signal?: AbortSignal
}

export interface NpmPackageRepo {
  dir: string
  /** One commit per version, in order; `files` is the number of files in that version's tree. */
  commits: Array<{ version: string, commit: string, files: number }>
}

/**
 * Creates `dir` as a git repository with one commit per version of an npm package, each commit's
 * tree being exactly that version's published files (the previous version's files are removed
 * first, so deletions show up as they would in real history).
 *
 * Tarballs are fetched with `npm pack` into `cacheDir` and reused from there on later runs, so
 * the network is needed once. Versions must be exact (`4.17.21`, not `^4`): the cache is keyed
 * by the file name npm gives the tarball.
 */
export async function makeNpmPackageRepo (dir: string, cacheDir: string, options: NpmPackageRepoOptions = {}): Promise<NpmPackageRepo> {
  const name = options.name ?? DEFAULT_NPM_CORPUS.name
  const versions = options.versions ?? DEFAULT_NPM_CORPUS.versions
  const signal = options.signal
  await mkdir(cacheDir, { recursive: true })
  // npm pack names a tarball `<name>-<version>.tgz`, with `@scope/name` written `scope-name`.
  const tarball = (version: string): string => path.join(cacheDir, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`)
  const missing: string[] = []
  for (const version of versions) {
    if (!(await exists(tarball(version)))) missing.push(version)
  }
  if (missing.length > 0) {
    // One npm process for all missing versions: npm's own start-up costs more than a small download.
    await run('npm', ['pack', '--silent', '--pack-destination', cacheDir, ...missing.map((v) => `${name}@${v}`)], cacheDir,
      signal ?? AbortSignal.timeout(NPM_PACK_TIMEOUT_MS))
    for (const version of missing) {
      if (!(await exists(tarball(version)))) throw new Error(`npm pack ${name}@${version} did not produce ${tarball(version)}`)
    }
  }

  await mkdir(dir, { recursive: true })
  await git(dir, ['init', '-q', '-b', 'main'], signal)
  const commits: NpmPackageRepo['commits'] = []
  for (const version of versions) {
    for (const entry of await readdir(dir)) {
      if (entry !== '.git') await rm(path.join(dir, entry), { recursive: true, force: true })
    }
    // npm tarballs hold one top-level folder (usually `package/`); its contents become the tree.
    // --no-same-owner: running as root must not give files the packager's uid.
    await run('tar', ['-xzf', tarball(version), '-C', dir, '--strip-components=1', '--no-same-owner'], dir, signal)
    await git(dir, ['add', '-A'], signal)
    // --allow-empty: two versions may publish identical files; the history still has one commit each.
    await git(dir, ['commit', '-q', '--allow-empty', '-m', `${name}@${version}`], signal)
    const commit = await git(dir, ['rev-parse', 'HEAD'], signal)
    const listing = await git(dir, ['ls-tree', '-r', '--name-only', '-z', commit], signal)
    commits.push({ version, commit, files: listing.split('\0').filter((f) => f !== '').length })
  }
  return { dir, commits }
}

async function exists (file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}

/** Runs a non-git command to completion; a failure throws with the command's stderr. */
async function run (command: string, args: string[], cwd: string, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], signal })
    const stderr: Buffer[] = []
    child.stderr.on('data', (chunk: Buffer) => { stderr.push(chunk) })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve()
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? 'killed'}): ${Buffer.concat(stderr).toString('utf8').trim()}`))
    })
  })
}
