import { readdir, readFile } from 'node:fs/promises'
import { GROUP_EXIT_WAIT_MS, GROUP_POLL_MS } from './constants.js'

/** Ends every process of one group: SIGTERM, then SIGKILL after a grace. Calling `kill` again joins the first call. */
export class GroupKiller {
  #killing: Promise<void> | undefined
  constructor (private readonly pgid: number, private readonly graceMs: number) {}

  async kill (): Promise<void> {
    this.#killing ??= this.#terminate()
    await this.#killing
  }

  async #terminate (): Promise<void> {
    if (!signalGroup(this.pgid, 'SIGTERM')) return
    if (await waitForGroupExit(this.pgid, this.graceMs)) return
    signalGroup(this.pgid, 'SIGKILL')
    await waitForGroupExit(this.pgid, GROUP_EXIT_WAIT_MS)
  }
}

/**
 * Sends `signal` to the group; false when the group no longer exists. EPERM (every member left
 * runs as another user, say through a setuid program) counts as existing: waiting is all we can do.
 */
function signalGroup (pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

async function waitForGroupExit (pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms
  while (true) {
    if (!await groupAlive(pgid)) return true
    if (performance.now() >= deadline) return false
    await new Promise(resolve => setTimeout(resolve, GROUP_POLL_MS))
  }
}

/**
 * True while some process of the group still runs. Signal 0 also reaches zombies, and an orphan
 * stays a zombie when the system's init does not reap (containers without `--init`), so on Linux a
 * group whose members are all zombies counts as gone.
 */
async function groupAlive (pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
  return await hasRunningMember(pgid)
}

async function hasRunningMember (pgid: number): Promise<boolean> {
  let entries: string[]
  try {
    entries = await readdir('/proc')
  } catch {
    return true // no procfs: signal 0 is all we can know
  }
  const states = await Promise.all(entries.filter(name => /^\d+$/.test(name)).map(async pid => {
    try {
      return parseStat(await readFile(`/proc/${pid}/stat`, 'latin1'))
    } catch {
      return undefined // the process ended while we looked
    }
  }))
  return states.some(s => s !== undefined && s.pgid === pgid && s.state !== 'Z' && s.state !== 'X')
}

/** Fields of /proc/PID/stat after the command name, which may itself hold spaces and parentheses. */
function parseStat (text: string): { state: string, pgid: number } | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  const pgid = Number(fields[2])
  return state !== undefined && Number.isInteger(pgid) ? { state, pgid } : undefined
}
