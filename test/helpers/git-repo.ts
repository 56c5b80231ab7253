/**
 * Temporary real git repositories for tests, driven by the git CLI (which is also the oracle).
 * Calls are synchronous: tests read top to bottom and git is fast on the small repositories made here.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** The identity written into every test repository's local config. */
export const TEST_IDENTITY = { name: 'Gitmesh Test', email: 'test@gitmesh.invalid' }

/**
 * Environment for git children: the caller's environment without variables that would redirect
 * git to another repository, plus a C locale and no prompts or pager.
 */
export function testGitEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(env)) {
    if (['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE', 'GIT_CEILING_DIRECTORIES'].includes(key)) delete env[key]
  }
  return { ...env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', ...extra }
}

export interface GitCallOptions {
  input?: string | Uint8Array
  env?: NodeJS.ProcessEnv
}

/** Runs git in `cwd` and returns its raw stdout; a non-zero exit throws (with stderr in the message). */
export function gitRaw (cwd: string, args: readonly string[], options: GitCallOptions = {}): Buffer {
  try {
    return execFileSync('git', args, {
      cwd,
      env: options.env ?? testGitEnv(),
      input: options.input,
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe']
    })
  } catch (err) {
    const e = err as { stderr?: Buffer, status?: number }
    throw new Error(`git ${args.join(' ')} failed (${String(e.status)}): ${e.stderr?.toString('utf8') ?? String(err)}`)
  }
}

/** Runs git in `cwd` and returns stdout as text without the trailing newline. */
export function git (cwd: string, args: readonly string[], options: GitCallOptions = {}): string {
  return gitRaw(cwd, args, options).toString('utf8').replace(/\n$/, '')
}

/** True when git exits 0. */
export function gitSucceeds (cwd: string, args: readonly string[], options: GitCallOptions = {}): boolean {
  try {
    gitRaw(cwd, args, options)
    return true
  } catch {
    return false
  }
}

/** A new empty directory under the system temp dir (symlinks resolved, so paths compare equal). */
export function makeTempDir (prefix = 'gitmesh-test-'): string {
  return realpathSync(mkdtempSync(path.join(tmpdir(), prefix)))
}

export interface InitOptions {
  bare?: boolean
  /** Write TEST_IDENTITY into the repository's config (default true). */
  identity?: boolean
  /** Directory to initialize (default: a new temp dir). */
  dir?: string
}

export interface WriteOptions {
  executable?: boolean
}

/** A real repository in a temp dir. Paths given to its methods are relative to the working tree. */
export class TestRepo {
  private constructor (readonly dir: string, readonly bare: boolean) {}

  static init (options: InitOptions = {}): TestRepo {
    const dir = options.dir ?? makeTempDir('gitmesh-repo-')
    mkdirSync(dir, { recursive: true })
    const bare = options.bare === true
    git(dir, ['init', '-q', '-b', 'main', ...(bare ? ['--bare'] : [])])
    if (options.identity !== false) {
      git(dir, ['config', 'user.name', TEST_IDENTITY.name])
      git(dir, ['config', 'user.email', TEST_IDENTITY.email])
    }
    return new TestRepo(dir, bare)
  }

  /** A repository that already exists at `dir` (for example a linked worktree). */
  static at (dir: string): TestRepo {
    return new TestRepo(dir, git(dir, ['rev-parse', '--is-bare-repository']) === 'true')
  }

  /** The (per-worktree) git directory; the repository itself when bare. */
  get gitDir (): string {
    return this.git(['rev-parse', '--absolute-git-dir'])
  }

  git (args: readonly string[], options?: GitCallOptions): string {
    return git(this.dir, args, options)
  }

  gitRaw (args: readonly string[], options?: GitCallOptions): Buffer {
    return gitRaw(this.dir, args, options)
  }

  path (rel: string): string {
    return path.join(this.dir, rel)
  }

  write (rel: string, content: string | Uint8Array, options: WriteOptions = {}): void {
    const file = this.path(rel)
    mkdirSync(path.dirname(file), { recursive: true })
    rmSync(file, { force: true })
    writeFileSync(file, content)
    chmodSync(file, options.executable === true ? 0o755 : 0o644)
  }

  /** Writes many files at once: `{ 'dir/a.txt': 'content' }`. */
  writeFiles (files: Record<string, string>): void {
    for (const [rel, content] of Object.entries(files)) this.write(rel, content)
  }

  symlink (rel: string, target: string): void {
    const file = this.path(rel)
    mkdirSync(path.dirname(file), { recursive: true })
    rmSync(file, { force: true })
    symlinkSync(target, file)
  }

  remove (rel: string): void {
    rmSync(this.path(rel), { recursive: true, force: true })
  }

  /** Stages everything (`git add -A`) and commits; returns the new commit id. */
  commit (message: string, options: { allowEmpty?: boolean } = {}): string {
    this.git(['add', '-A'])
    this.git(['commit', '-q', '--no-verify', ...(options.allowEmpty === true ? ['--allow-empty'] : []), '-m', message])
    return this.revParse('HEAD')
  }

  revParse (rev: string): string {
    return this.git(['rev-parse', '--verify', '--end-of-options', rev])
  }

  /** Every object id reachable from `wants` and not from `nots`, as `git rev-list --objects` says. */
  revListObjects (wants: readonly string[], nots: readonly string[] = [], options: { noWalk?: boolean } = {}): Set<string> {
    const args = ['rev-list', '--objects', ...(options.noWalk === true ? ['--no-walk'] : []), ...wants]
    if (nots.length > 0) args.push('--not', ...nots)
    const out = this.git(args)
    return new Set(out.split('\n').filter(line => line !== '').map(line => line.slice(0, 40)))
  }

  /** Object type as `git cat-file -t` says, or undefined when the object is missing. */
  objectType (oid: string): string | undefined {
    try {
      return this.git(['cat-file', '-t', oid])
    } catch {
      return undefined
    }
  }

  cleanup (): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Owns every repository and directory a test makes, so one `cleanup()` in `afterEach` removes them.
 */
export class Scratch {
  private readonly dirs: string[] = []

  repo (options: Omit<InitOptions, 'dir'> = {}): TestRepo {
    const repo = TestRepo.init(options)
    this.dirs.push(repo.dir)
    return repo
  }

  dir (prefix = 'gitmesh-test-'): string {
    const dir = makeTempDir(prefix)
    this.dirs.push(dir)
    return dir
  }

  cleanup (): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  }
}
