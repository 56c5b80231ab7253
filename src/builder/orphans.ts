import { readFileSync } from 'node:fs'
import type { BuilderStore } from './builder-store.js'

/**
 * Ends the commands a crashed run of this builder left running (their process groups were
 * recorded as they started), before their jobs run again.
 */
export function reapOrphanedCommands (store: BuilderStore): void {
  for (const { author, id, pgid } of store.processGroups()) {
    killOrphanedGroup(pgid, id)
    store.setProcessGroup(author, id, null)
  }
}

/**
 * Ends a process group left running by a crashed builder, after checking through /proc that its
 * leader still belongs to that job (a recycled process id must not take an unrelated group down).
 */
function killOrphanedGroup (pgid: number, jobId: string): void {
  try {
    const environ = readFileSync(`/proc/${pgid}/environ`, 'latin1')
    if (!environ.split('\0').includes(`GITMESH_JOB_ID=${jobId}`)) return
    process.kill(-pgid, 'SIGKILL')
  } catch {
    // Gone already, or not ours to inspect: nothing to end.
  }
}
