import { createHash } from 'node:crypto'
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { deflateSync } from 'node:zlib'
import type { ObjectType } from './cat-file.js'

/**
 * Writes one object as a loose file in `objectDir` and returns its id, in-process: for the few
 * small objects of a snapshot commit or a one-file change this is far cheaper than starting git.
 * The id is computed from the content, as git does: sha1("<type> <size>\0" + body). The file is
 * written to a temporary name and renamed into place, so a crash never leaves a truncated object
 * (isomorphic-git's writer writes in place, which is why it is not used here).
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
  const temp = path.join(dir, `tmp_obj_gitmesh_${process.pid}_${Math.random().toString(36).slice(2)}`)
  try {
    await writeFile(temp, deflateSync(raw), { mode: 0o444 })
    await rename(temp, file)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  return oid
}
