import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { MERGE_LABELS } from './constants.js'

export interface MarkedFile {
  path: string
  /** 1-based numbers of the lines that open or close a conflict. */
  lines: number[]
}

/**
 * The conflict markers a working-tree merge wrote that are still there. Only the labelled lines
 * count (`<<<<<<< working-tree`, `>>>>>>> job`): a bare `=======` is also a Markdown underline.
 * A file that is gone or unreadable holds no markers.
 */
export async function findConflictMarkers (workTree: string, files: readonly string[]): Promise<MarkedFile[]> {
  const open = `${'<'.repeat(7)} ${MERGE_LABELS.ours}`
  const close = `${'>'.repeat(7)} ${MERGE_LABELS.theirs}`
  const marked: MarkedFile[] = []
  for (const file of files) {
    let text: string
    try {
      text = await readFile(path.join(workTree, file), 'utf8')
    } catch {
      continue
    }
    const lines: number[] = []
    text.split('\n').forEach((line, i) => {
      const bare = line.replace(/\r$/, '')
      if (bare === open || bare === close) lines.push(i + 1)
    })
    if (lines.length > 0) marked.push({ path: file, lines })
  }
  return marked
}
