import type { Logger } from '@libp2p/interface'
import { changedPaths, commitChangeOnHead, mergeChangeIntoWorkingTree, restorePaths } from '../git/apply-change.js'
import { findConflictMarkers } from '../git/conflict-markers.js'
import { ChangeDoesNotApplyError } from '../git/errors.js'
import { finishAccept, headCommitWithTrailer } from '../git/finish-accept.js'
import { removeLeftoverTempFiles } from '../git/worktree-files.js'
import { snapshotWorkingTree } from '../git/snapshot.js'
import { locateRepository } from '../git/repository.js'
import { writeRef } from '../git/refs.js'
import { JOB_COPY_SUFFIX } from '../git/constants.js'
import { runCommand } from '../process/run-command.js'
import { tail } from '../builder/job-runner.js'
import { MAX_ATTEMPT_LOG_BYTES } from '../jobs/constants.js'
import { stackAccepted } from '../jobs/dependencies.js'
import { JobStateError, UnresolvedConflictsError } from '../jobs/errors.js'
import type { Job } from '../jobs/job.js'
import type { JobStore } from '../jobs/job-store.js'

/**
 * Review on the author's working tree: merge a result in (after snapshotting the tree as W0),
 * accept it as a commit on HEAD, or reject it (restoring W0). Operations on one working tree run
 * one at a time, and a merge is recorded as in progress before the first file is written, so a
 * crash is rolled back to W0 on the next start.
 */
export class Review {
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor (private readonly jobs: JobStore, private readonly log: Logger, private readonly changed: (job: Job) => Job) {}

  /** Runs `work` after every earlier operation on the same working tree. */
  private async serialized<T> (repo: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(repo) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(work)
    this.queues.set(repo, next)
    try {
      return await next
    } finally {
      if (this.queues.get(repo) === next) this.queues.delete(repo)
    }
  }

  async merge (job: Job): Promise<Job> {
    return await this.serialized(job.repo, async () => await this.mergeNow(this.jobs.get(job.id)!))
  }

  private async mergeNow (job: Job): Promise<Job> {
    if (job.state !== 'returned' || job.result === undefined) throw new JobStateError(`${job.name} is ${job.state}: only a returned job can be merged`)
    // A stacked result's change is B_dependency → B: it applies on a tree that holds the
    // dependency's change, which the working tree has once the dependency is accepted.
    if (job.ranOn?.kind === 'stacked-on') {
      const dependency = this.jobs.findByName(job.ranOn.job!)
      if (!stackAccepted(job.ranOn, dependency)) throw new JobStateError(`${job.name} is stacked on the result of ${job.ranOn.job!} (${dependency?.state ?? 'gone'}): accept ${job.ranOn.job!} first`)
    }
    const open = this.jobs.inStates(['merged']).find(other => other.repo === job.repo)
    if (open !== undefined) throw new JobStateError(`${open.name} is merged into this working tree and not yet accepted or rejected: resolve it first`)
    const result = job.result
    // The merge is recorded as in progress before anything is written (W0, its ref, a file), so a
    // crash at any point is found on the next start; then W0, recorded before the first file.
    const touchable = (await changedPaths(job.repo, job.snapshot, result.commit)).flatMap(change => [change.path, `${change.path}${JOB_COPY_SUFFIX}`])
    this.jobs.update(job.id, { merge: { paths: touchable, conflicts: [], inProgress: true } })
    const w0 = (await snapshotWorkingTree(job.repo)).commit
    await this.protect(job, w0)
    this.jobs.update(job.id, { merge: { w0, paths: touchable, conflicts: [], inProgress: true } })
    const outcome = await mergeChangeIntoWorkingTree(job.repo, job.snapshot, result.commit)
    const conflicts = outcome.conflicts.map(conflict => conflict.path)
    let merged = this.jobs.transition(job.id, 'merged', { merge: { w0, paths: outcome.paths, conflicts, inProgress: false, mergedAt: Date.now() } }, { from: 'returned', atRound: job.round })
    this.changed(merged)
    // The tests run on the merged tree, as the user will see it.
    const tested = await runCommand({ command: job.test, cwd: job.repo, env: { GITMESH_JOB_ID: job.id, GITMESH_JOB_NAME: job.name }, timeoutMs: job.testTimeoutMs })
    merged = this.jobs.update(job.id, {
      merge: { ...merged.merge!, testPassed: tested.exitCode === 0 && !tested.timedOut, testOutput: tail(tested.output, MAX_ATTEMPT_LOG_BYTES) }
    })
    return this.changed(merged)
  }

  /**
   * Commits the job's change on HEAD. `force` also lets conflict markers stay (uncommitted) in the
   * merged files; `withMyEdits` commits the files whose change cannot be kept apart from the
   * user's own edits as they stand.
   */
  async accept (job: Job, options: { force?: boolean, withMyEdits?: boolean } = {}): Promise<Job> {
    if ((job.outsideOwns?.length ?? 0) > 0 && options.force !== true) {
      throw new JobStateError(`${job.name} changed paths outside what it owns (${job.outsideOwns!.slice(0, 5).join(', ')}${job.outsideOwns!.length > 5 ? ', …' : ''}): accept it with --force, or reject it`)
    }
    if (job.state === 'returned') {
      const merged = await this.merge(job)
      if (merged.merge !== undefined && merged.merge.conflicts.length > 0) {
        throw new JobStateError(`${job.name} merged with conflicts in ${merged.merge.conflicts.join(', ')}: resolve them, then accept again (or reject it to restore the working tree)`)
      }
    }
    return await this.serialized(job.repo, async () => {
      let current = this.jobs.get(job.id)!
      if (current.state === 'merged' && current.merge?.accepting !== undefined) {
        current = await this.finishAccept(current)
        if (current.state === 'accepted') return current
      }
      if (current.state !== 'merged' || current.result === undefined || current.merge === undefined) throw new JobStateError(`${current.name} is ${current.state}: only a returned or merged job can be accepted`)
      if (options.force !== true && current.merge.conflicts.length > 0) {
        const marked = await findConflictMarkers(current.repo, current.merge.conflicts)
        if (marked.length > 0) throw new UnresolvedConflictsError(current.name, marked)
      }
      const merge = current.merge
      try {
        const { commit } = await commitChangeOnHead(current.repo, current.snapshot, current.result.commit, commitMessage(current), {
          withMyEdits: options.withMyEdits,
          // Recorded before HEAD moves: a crash after it is finished on the next start.
          beforeHeadMoves: (commit, parent) => { this.jobs.update(current.id, { merge: { ...merge, accepting: { commit, parent } } }) }
        })
        return this.changed(this.jobs.transition(current.id, 'accepted', { acceptedCommit: commit, merge: { ...merge, accepting: undefined } }, { from: 'merged', atRound: current.round }))
      } catch (err) {
        // After the commit was recorded, HEAD may or may not have moved: finish it either way.
        const cut = this.jobs.get(current.id)!
        if (cut.merge?.accepting !== undefined) {
          const finished = await this.finishAccept(cut).catch(() => undefined)
          if (finished?.state === 'accepted') return finished
        }
        // HEAD already holds the change: it may be this job's own commit, from an accept whose
        // end was never recorded. Its trailer says so.
        if ((err as Error).name === 'NothingToCommitError') {
          const own = await headCommitWithTrailer(current.repo, jobTrailer(current))
          if (own !== undefined) return await this.finishAccept(current, own)
        }
        if (err instanceof ChangeDoesNotApplyError && options.withMyEdits !== true) {
          throw new ChangeDoesNotApplyError(err.conflicts, `\`gitmesh accept ${current.name} --with-my-edits\` commits ${err.conflicts.length === 1 ? 'that file' : 'those files'} as ${err.conflicts.length === 1 ? 'it stands' : 'they stand'} in the working tree, your edits there included`)
        }
        throw err
      }
    })
  }

  /** An accept cut short after it made its commit: accepted if HEAD moved to it, else merged as before. */
  private async finishAccept (job: Job, made = job.merge!.accepting!): Promise<Job> {
    const { commit, parent } = made
    const { committed } = await finishAccept(job.repo, commit, parent)
    const merge = { ...job.merge!, accepting: undefined }
    if (!committed) return this.jobs.update(job.id, { merge })
    this.log('finished the interrupted accept of %s (%s)', job.name, commit)
    return this.changed(this.jobs.transition(job.id, 'accepted', { acceptedCommit: commit, merge }, { from: 'merged', atRound: job.round }))
  }

  /** Restores W0 (when merged) and marks the job rejected. */
  async reject (job: Job, then?: (restored: Job) => Promise<Job>): Promise<Job> {
    return await this.serialized(job.repo, async () => {
      const current = this.jobs.get(job.id)!
      if (current.state !== 'merged' && current.state !== 'returned') throw new JobStateError(`${current.name} is ${current.state}: only a returned or merged job can be rejected`)
      if (current.state === 'merged' && current.merge !== undefined) {
        // restorePaths snapshots the tree first: edits made since the merge stay recoverable
        // from that commit, which a ref keeps.
        const { before } = await restorePaths(current.repo, current.merge.w0!, current.merge.paths)
        await writeRef(await locateRepository(current.repo), `refs/gitmesh/before-reject/${current.name}`, before)
      }
      // `then` (a re-offer) replaces the `rejected` state in one step: dependents never see a
      // rejection that is not final.
      if (then !== undefined) return await then(current)
      return this.changed(this.jobs.transition(current.id, 'rejected', {}, { from: current.state, atRound: current.round }))
    })
  }

  /**
   * After a crash: temporary files a killed write left are removed; a merge that was writing files
   * is rolled back to W0, so the tree is as before; an accept that made its commit is finished
   * (HEAD moved: accepted, with the index brought along) or forgotten (HEAD did not move), and an
   * `index.lock` it left is removed.
   */
  async recover (): Promise<void> {
    for (const job of this.jobs.list()) {
      const merge = job.merge
      if (merge === undefined || (job.state !== 'merged' && !merge.inProgress)) continue
      try {
        const leftovers = await removeLeftoverTempFiles(job.repo, merge.paths)
        if (leftovers.length > 0) this.log('removed temporary files an interrupted write left: %s', leftovers.join(', '))
        if (merge.inProgress) {
          // Without W0 nothing was written yet.
          if (merge.w0 !== undefined) await restorePaths(job.repo, merge.w0, merge.paths)
          this.changed(this.jobs.update(job.id, { merge: null }))
          this.log('rolled back the interrupted merge of %s', job.name)
        } else if (merge.accepting !== undefined) {
          await this.finishAccept(job)
        }
      } catch (err) {
        this.log.error('could not recover the interrupted review of %s (W0 is %s) - %e', job.name, merge.w0, err)
      }
    }
  }

  /** W0 is a loose commit no branch points at: a ref keeps `git gc` from pruning it. */
  private async protect (job: Job, w0: string): Promise<void> {
    await writeRef(await locateRepository(job.repo), `refs/gitmesh/w0/${job.name}`, w0)
  }
}

function commitMessage (job: Job): string {
  const subject = job.name.replace(/-/g, ' ')
  const prompt = job.prompt.split(/^(?:```|~~~)/m)[0]!.trim()
  const body = prompt.length > 2000 ? `${prompt.slice(0, 2000)}…` : prompt
  return `${subject}\n\n${body}\n\n${jobTrailer(job)}\nGitmesh-Builder: ${job.result?.builder ?? 'unknown'}\n`
}

function jobTrailer (job: Job): string {
  return `Gitmesh-Job: ${job.name} (${job.id})`
}
