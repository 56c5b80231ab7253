import { mkdir, mkdtemp, readdir, rename, rm, readFile, writeFile, access } from 'node:fs/promises'
import path from 'node:path'
import { CatFile, type ObjectInfo, type RawObject } from './cat-file.js'
import { walkClosure, type Closure, type ClosureEntry, type WalkOptions } from './closure.js'
import { gitEnv, gitText, runGit } from './git-process.js'
import { isAncestorCommit } from './ancestry.js'
import { looseObjectType } from './loose-read.js'
import { isOid } from './oid.js'
import { indexPack, packObjects, readPackIndexOids, type PackOptions, type PackStream } from './pack.js'
import { locateObjectStore, type RepositoryPaths } from './repository.js'
import { parseCommit } from './tree.js'
import { writeRef } from './refs.js'
import { QUARANTINE_PREFIX, removeStaleQuarantines } from './quarantine.js'

/** Reads objects by id: a store, or a received pack not stored yet. */
export interface ObjectReader {
  infoMany: (oids: readonly string[]) => Promise<Array<ObjectInfo | null>>
  readMany: (oids: readonly string[]) => Promise<Array<RawObject | null>>
}

export interface ReceivedPack {
  /** Ids of every object the pack held, as computed from their content. */
  oids: string[]
}

/**
 * The one place that decides how git objects are read and written. Bulk work goes through git's
 * own plumbing (a long-lived `cat-file --batch`, `pack-objects`, `index-pack`), which is an order
 * of magnitude faster than in-process object code for thousands of objects.
 */
export class ObjectStore {
  private reader?: CatFile
  private checker?: CatFile
  private closed = false
  /** Commits under refs/gitmesh/, newest first, read once and then kept current by `updateRef`. */
  private gitmeshRefCommits?: string[]
  private shallowUpdate: Promise<void> = Promise.resolve()
  private staleQuarantines?: Promise<string[]>

  private constructor (readonly dir: string, readonly paths: RepositoryPaths) {}

  /** Opens the repository at `dir` (a working tree or a bare repository). */
  static async open (dir: string): Promise<ObjectStore> {
    return new ObjectStore(dir, await locateObjectStore(dir))
  }

  /** Opens the repository at `dir`, creating an empty one there if there is none. */
  static async openOrInit (dir: string): Promise<ObjectStore> {
    try {
      await access(path.join(dir, '.git'))
    } catch {
      try {
        await access(path.join(dir, 'objects'))
        await access(path.join(dir, 'HEAD'))
      } catch {
        await mkdir(dir, { recursive: true })
        await runGit(['init', '-q'], { cwd: dir })
      }
    }
    return await ObjectStore.open(dir)
  }

  private get cwd (): string {
    return this.paths.gitDir
  }

  async readMany (oids: readonly string[]): Promise<Array<RawObject | null>> {
    this.assertOpen()
    this.reader ??= new CatFile(this.cwd, 'batch')
    return await this.reader.readMany(oids)
  }

  async infoMany (oids: readonly string[]): Promise<Array<ObjectInfo | null>> {
    this.assertOpen()
    this.checker ??= new CatFile(this.cwd, 'batch-check')
    return await this.checker.infoMany(oids)
  }

  /** Which of `oids` are present. */
  async presentSet (oids: readonly string[]): Promise<Set<string>> {
    const infos = await this.infoMany(oids)
    return new Set(oids.filter((_, i) => infos[i] != null))
  }

  async walkClosure (wants: readonly string[], haves: readonly string[], options?: WalkOptions): Promise<Closure> {
    return await walkClosure(this, wants, haves, options)
  }

  /** Resolves a revision to a commit id; undefined when it names nothing. */
  async resolveCommit (rev: string): Promise<string | undefined> {
    // A loose commit's id (a snapshot being granted) is answered in-process; anything else
    // (a packed object, a tag to peel, a revision to parse) by git.
    if (isOid(rev) && await looseObjectType(this.paths.commonDir, rev) === 'commit') return rev
    const out = await gitText(['rev-parse', '--verify', '-q', '--end-of-options', `${rev}^{commit}`], { cwd: this.cwd, okExitCodes: [1, 128] })
    return out === '' ? undefined : out
  }

  /** True when `ancestor` is `descendant` or one of its ancestors (in-process when the walk is short and loose). */
  async isAncestor (ancestor: string, descendant: string): Promise<boolean> {
    // Types first, from the running cat-file (headers only): a missing want costs no walk, and a
    // want naming a blob is not read in full.
    const infos = await this.infoMany([ancestor, descendant])
    if (infos.some(info => info?.type !== 'commit')) return false
    return await isAncestorCommit(this.paths, ancestor, descendant)
  }

  async updateRef (ref: string, oid: string): Promise<void> {
    await writeRef(this.paths, ref, oid)
    if (ref.startsWith('refs/gitmesh/') && this.gitmeshRefCommits !== undefined) {
      this.gitmeshRefCommits = [oid, ...this.gitmeshRefCommits.filter(c => c !== oid)]
    }
  }

  /**
   * Refs under refs/gitmesh/ were deleted by another command (`gitmesh prune`): their commits
   * are read again when next needed, so a commit that `git gc` may now remove is never offered
   * as a have.
   */
  forgetGitmeshRefs (): void {
    this.gitmeshRefCommits = undefined
  }

  /** HEAD's commit through the long-lived reader (no process start), or undefined when unborn. */
  async headCommit (): Promise<string | undefined> {
    const [info] = await this.infoMany(['HEAD'])
    return info?.type === 'commit' ? info.oid : undefined
  }

  /** The newest commits under refs/gitmesh/ (cached after the first call). */
  async gitmeshCommits (limit: number): Promise<string[]> {
    this.gitmeshRefCommits ??= await this.listRefCommits('refs/gitmesh/', 1000)
    return this.gitmeshRefCommits.slice(0, limit)
  }

  /** Commits named by refs matching `pattern` (for-each-ref syntax), newest first. */
  async listRefCommits (pattern: string, limit: number): Promise<string[]> {
    const out = await gitText(['for-each-ref', '--sort=-committerdate', `--count=${limit}`, '--format=%(objectname) %(objecttype)', pattern], { cwd: this.cwd })
    return out.split('\n').filter(line => line.endsWith(' commit')).map(line => line.slice(0, 40))
  }

  packObjects (entries: readonly ClosureEntry[], preferredBases: readonly string[], options?: PackOptions): PackStream {
    return packObjects(this.cwd, entries, preferredBases, options)
  }

  /**
   * Receives one pack into a quarantine directory, checks it, and only then moves it into the
   * object database: index-pack re-hashes and fscks every object (unsafe tree entry names fail
   * it), and `check` sees every object id and may throw to discard the whole pack.
   */
  async receivePack (source: AsyncIterable<Uint8Array>, check: (oids: string[], objects: ObjectReader) => void | Promise<void>, signal?: AbortSignal): Promise<ReceivedPack> {
    await this.removeStaleQuarantines()
    // The pid in the name says whose it is: a later start removes those of a process that died.
    const quarantine = await mkdtemp(path.join(this.paths.objectDir, `${QUARANTINE_PREFIX}${process.pid}-`))
    try {
      await mkdir(path.join(quarantine, 'pack'))
      const indexed = await indexPack(this.cwd, quarantine, this.paths.objectDir, source, signal)
      const oids = await readPackIndexOids(indexed.indexPath)
      // The pack's objects, readable before they are stored: the quarantine, the repository behind it.
      const env = gitEnv({ GIT_OBJECT_DIRECTORY: quarantine, GIT_ALTERNATE_OBJECT_DIRECTORIES: this.paths.objectDir })
      const reader = new CatFile(this.cwd, 'batch', env)
      const checker = new CatFile(this.cwd, 'batch-check', env)
      try {
        await check(oids, { readMany: async ids => await reader.readMany(ids), infoMany: async ids => await checker.infoMany(ids) })
      } finally {
        reader.close()
        checker.close()
      }
      const packDir = path.join(this.paths.objectDir, 'pack')
      await mkdir(packDir, { recursive: true })
      // The .idx goes last: git only sees a pack once its index exists.
      for (const file of (await readdir(path.join(quarantine, 'pack'))).sort((a, b) => Number(a.endsWith('.idx')) - Number(b.endsWith('.idx')))) {
        await rename(path.join(quarantine, 'pack', file), path.join(packDir, file))
      }
      // The long-lived readers need no restart (which would fail reads in flight): cat-file looks
      // for new packs by itself when an object is not found in the packs it knows.
      return { oids }
    } finally {
      await rm(quarantine, { recursive: true, force: true })
    }
  }

  /**
   * Removes the quarantine folders that a killed process left (a kill during index-pack skips
   * the cleanup of `receivePack`): every `incoming-gitmesh-<pid>-*` whose process is gone, and
   * those named without a pid. Runs once per store; later calls wait for that run.
   */
  async removeStaleQuarantines (): Promise<string[]> {
    this.staleQuarantines ??= removeStaleQuarantines(this.paths.objectDir)
    return await this.staleQuarantines
  }

  /** Marks commits whose parents are absent as shallow, so `git fsck` and `git log` accept them. */
  async markShallowWhereParentsMissing (commits: readonly string[]): Promise<string[]> {
    const objects = await this.readMany(commits)
    const parents = objects.flatMap(object => object === null ? [] : parseCommit(object.body).parents)
    const present = await this.presentSet(parents)
    const shallow = commits.filter((_, i) => {
      const object = objects[i]
      return object != null && parseCommit(object.body).parents.some(parent => !present.has(parent))
    })
    if (shallow.length === 0) return []
    // Fetches running side by side share one shallow file: update it one at a time, each re-reading it.
    const update = this.shallowUpdate.then(async () => {
      const file = path.join(this.paths.commonDir, 'shallow')
      const existing = await readFile(file, 'utf8').catch(() => '')
      const all = new Set(existing.split('\n').filter(line => line.length === 40))
      for (const oid of shallow) all.add(oid)
      const lock = `${file}.lock`
      await writeFile(lock, [...all].sort().join('\n') + '\n', { flag: 'wx' })
      await rename(lock, file)
    })
    this.shallowUpdate = update.catch(() => { /* the caller that waits on `update` gets the error */ })
    await update
    return shallow
  }

  private assertOpen (): void {
    if (this.closed) throw new Error(`the object store of ${this.dir} is closed`)
  }

  /** True while the repository is still where it was opened (it may have been deleted since). */
  async stillThere (): Promise<boolean> {
    try {
      await access(path.join(this.paths.gitDir, 'HEAD'))
      return true
    } catch {
      return false
    }
  }

  close (): void {
    this.closed = true
    this.reader?.close()
    this.reader = undefined
    this.checker?.close()
    this.checker = undefined
  }
}
