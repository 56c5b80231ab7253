import { MAX_TREE_BYTES, OID_BYTES } from './constants.js'
import { MalformedObjectError } from './errors.js'

export type EntryKind = 'tree' | 'blob' | 'commit'

export interface TreeEntry {
  mode: string
  /** The raw name bytes as a latin1 string (lossless); decode as UTF-8 only for display. */
  name: string
  oid: string
  kind: EntryKind
}

const MODE_KINDS: Record<string, EntryKind> = {
  40000: 'tree',
  100644: 'blob',
  100755: 'blob',
  120000: 'blob',
  160000: 'commit'
}

/** Parses a raw tree object body (`<mode> <name>\0<20-byte id>` repeated). */
export function parseTree (body: Uint8Array): TreeEntry[] {
  if (body.byteLength > MAX_TREE_BYTES) {
    throw new MalformedObjectError(`tree of ${body.byteLength} bytes exceeds ${MAX_TREE_BYTES}`)
  }
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const entries: TreeEntry[] = []
  let pos = 0
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos)
    if (space < 0) throw new MalformedObjectError('tree entry without a mode')
    const nul = buf.indexOf(0, space + 1)
    if (nul < 0 || nul + 1 + OID_BYTES > buf.length) throw new MalformedObjectError('truncated tree entry')
    const mode = buf.toString('latin1', pos, space)
    const kind = MODE_KINDS[mode]
    if (kind === undefined) throw new MalformedObjectError(`tree entry with unknown mode ${JSON.stringify(mode)}`)
    const name = buf.toString('latin1', space + 1, nul)
    const oid = buf.toString('hex', nul + 1, nul + 1 + OID_BYTES)
    entries.push({ mode, name, oid, kind })
    pos = nul + 1 + OID_BYTES
  }
  return entries
}

export interface CommitHeader {
  tree: string
  parents: string[]
}

/** Reads the tree and parents out of a raw commit body. */
export function parseCommit (body: Uint8Array): CommitHeader {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1')
  const headerEnd = text.indexOf('\n\n')
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd)
  let tree: string | undefined
  const parents: string[] = []
  for (const line of header.split('\n')) {
    if (line.startsWith('tree ')) tree = line.slice(5)
    else if (line.startsWith('parent ')) parents.push(line.slice(7))
  }
  if (tree === undefined || !/^[0-9a-f]{40}$/.test(tree) || !parents.every(p => /^[0-9a-f]{40}$/.test(p))) {
    throw new MalformedObjectError('commit without a valid tree or parent line')
  }
  return { tree, parents }
}
