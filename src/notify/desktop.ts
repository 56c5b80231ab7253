import { constants as fsConstants } from 'node:fs'
import { access } from 'node:fs/promises'
import path from 'node:path'

/** A command line that shows a desktop notification: the program and its arguments, never a shell string. */
export interface NotifyCommand {
  file: string
  args: string[]
}

/** The program of `name` on `PATH` (as the user's shell would find it), or undefined. */
export async function findOnPath (name: string, pathVariable = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of pathVariable.split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.join(dir, name)
    try {
      await access(candidate, fsConstants.X_OK)
      return candidate
    } catch { /* not here */ }
  }
  return undefined
}

/**
 * The command that raises a notification on this system: `notify-send` on Linux and the BSDs,
 * `osascript` on macOS, when found on PATH; undefined elsewhere. The text goes in as arguments:
 * `--` ends notify-send's options (a body starting with `-` stays text), and osascript hands its
 * trailing arguments to the script's `run` handler, so no text is ever parsed as AppleScript.
 */
export async function notifyCommand (title: string, body: string, platform: NodeJS.Platform = process.platform): Promise<NotifyCommand | undefined> {
  if (platform === 'darwin') {
    const file = await findOnPath('osascript')
    if (file === undefined) return undefined
    return {
      file,
      args: ['-e', 'on run argv', '-e', 'display notification (item 2 of argv) with title (item 1 of argv)', '-e', 'end run', title, body]
    }
  }
  if (platform === 'win32') return undefined
  const file = await findOnPath('notify-send')
  if (file === undefined) return undefined
  return { file, args: ['--app-name=gitmesh', '--', title, body] }
}
