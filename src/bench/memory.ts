import { readFile, writeFile } from 'node:fs/promises'

/** A process's resident memory now (VmRSS), in MB. */
export async function rssMb (pid: number): Promise<number> {
  return await statusFieldMb(pid, 'VmRSS')
}

async function statusFieldMb (pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return kb / 1024
}

/**
 * The peak resident memory of each process while `work` runs, in MB. Linux keeps each process's
 * high-water mark (VmHWM) and resets it on request (`5` into /proc/PID/clear_refs), so the peak
 * is exact, not sampled. Where that reset is refused, VmRSS is sampled every 20 ms instead.
 */
export async function peakRssDuring<T> (pids: readonly number[], work: () => Promise<T>): Promise<{ value: T, peakMb: number[], method: 'high-water mark' | 'sampled' }> {
  const resets = await Promise.all(pids.map(async pid => await writeFile(`/proc/${pid}/clear_refs`, '5').then(() => true, () => false)))
  if (resets.every(Boolean)) {
    const value = await work()
    return { value, peakMb: await Promise.all(pids.map(async pid => await statusFieldMb(pid, 'VmHWM'))), method: 'high-water mark' }
  }
  const peaks = pids.map(() => 0)
  const sample = async (): Promise<void> => {
    const now = await Promise.all(pids.map(rssMb))
    now.forEach((mb, i) => { if (mb > peaks[i]!) peaks[i] = mb })
  }
  await sample()
  const timer = setInterval(() => { void sample() }, 20)
  try {
    const value = await work()
    await sample()
    return { value, peakMb: peaks, method: 'sampled' }
  } finally {
    clearInterval(timer)
  }
}
