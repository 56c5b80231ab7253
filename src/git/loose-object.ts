import { createHash } from 'node:crypto'
import { mkdir, rename, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { deflateSync } from 'node:zlib'
import type { ObjectType } from './cat-file.js'

/**
 * Writes one object as a loose file in `objectDir` and returns its id, in-process: for the single
 * small commit of a snapshot this is far cheaper than starting `git commit-tree`.
 * The id is computed here from the content, as git does: sha1("<type> <size>\0" + body).
 */
export async function writeLooseObject (objectDir: string, type: ObjectType, body: Uint8Array): Promise<string> {
  const header = Buffer.from(`${type} ${body.byteLength}\0`, 'latin1')
  const raw = Buffer.concat([header, body])
  const oid = createHash('sha1').update(raw).digest('hex')
  const dir = path.join(objectDir, oid.slice(0, 2))
  const file = path.join(dir, oid.slice(2))
  try {
    await stat(file)
    return oid // already there: objects are immutable
  } catch {}
  await mkdir(dir, { recursive: true })
  const temp = path.join(dir, `tmp_obj_gitmesh_${process.pid}_${Math.random().toString(36).slice(2)}`)
  await writeFile(temp, deflateSync(raw), { mode: 0o444 })
  await rename(temp, file)
  return oid
}
