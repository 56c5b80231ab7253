import { readdir, rm } from 'node:fs/promises'
import path from 'node:path'

/** Received packs are indexed in `<objects>/incoming-gitmesh-<pid>-<random>` before they are checked. */
export const QUARANTINE_PREFIX = 'incoming-gitmesh-'

/** True while a process with this id runs (EPERM: it runs, as another user). */
function processRuns (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Deletes the quarantine folders in `objectDir` whose process is gone (or that name none), and
 * returns their names. A folder of a running process — this one's included — is left alone: its
 * fetch is still under way.
 */
export async function removeStaleQuarantines (objectDir: string): Promise<string[]> {
  const names = await readdir(objectDir).catch(() => [] as string[])
  const stale = names.filter(name => {
    if (!name.startsWith(QUARANTINE_PREFIX)) return false
    const pid = /^(\d+)-/.exec(name.slice(QUARANTINE_PREFIX.length))?.[1]
    return pid === undefined || !processRuns(Number(pid))
  })
  for (const name of stale) await rm(path.join(objectDir, name), { recursive: true, force: true })
  return stale
}
