import { createHash } from 'node:crypto'
import { mkdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { deflateSync } from 'node:zlib'
import type { ObjectType } from './cat-file.js'
import { writeFileAtomic } from './iso-fs.js'

/**
 * Writes one object as a loose file in `objectDir` and returns its id, in-process: for the few
 * small objects of a snapshot commit or a one-file change this is far cheaper than starting git.
 * The id is computed from the content, as git does: sha1("<type> <size>\0" + body). The file is
 * written to a temporary name and renamed into place, so a crash never leaves a truncated object.
 * isomorphic-git writes through the same atomic write (see iso-fs.ts); this path takes bytes
 * already serialised (received objects, merged blobs) and skips its parsing.
 */
export async function writeLooseObject (objectDir: string, type: ObjectType, body: Uint8Array): Promise<string> {
  const raw = Buffer.concat([Buffer.from(`${type} ${body.byteLength}\0`, 'latin1'), body])
  const oid = createHash('sha1').update(raw).digest('hex')
  const dir = path.join(objectDir, oid.slice(0, 2))
  const file = path.join(dir, oid.slice(2))
  try {
    await stat(file)
    return oid // already there: objects are immutable
  } catch { /* not there yet */ }
  await mkdir(dir, { recursive: true })
  await writeFileAtomic(file, deflateSync(raw), { mode: 0o444 })
  return oid
}
