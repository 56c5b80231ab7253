import pc from 'picocolors'
import Table from 'cli-table3'

/** Where a command's results go: JSON for scripts, or text (colored only on a terminal) for people. */
export interface Output {
  json: boolean
  /** Prints the result: `value` as JSON with --json, else `human()`'s lines. */
  result: (value: unknown, human: () => string | string[]) => void
  /** A transient progress line on stderr, only on a terminal and never with --json. */
  progress: (line: string) => void
  endProgress: () => void
}

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export function createOutput (json: boolean): Output {
  const live = process.stderr.isTTY === true && !json
  let progressShown = false
  return {
    json,
    result (value, human) {
      if (json) {
        process.stdout.write(JSON.stringify(value, null, 2) + '\n')
        return
      }
      const text = human()
      process.stdout.write((Array.isArray(text) ? text.join('\n') : text) + '\n')
    },
    progress (line) {
      if (!live) return
      process.stderr.write(`\r\x1b[2K${line}`)
      progressShown = true
    },
    endProgress () {
      if (progressShown) process.stderr.write('\r\x1b[2K')
      progressShown = false
    }
  }
}

export function printError (err: unknown): void {
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`${pc.red('error:')} ${message}\n`)
}

export function table (head: string[], rows: string[][]): string {
  const t = new Table({ head: head.map(h => pc.bold(h)), style: { head: [], border: [] } })
  t.push(...rows)
  return t.toString()
}

export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

export { pc }
