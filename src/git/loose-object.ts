import fs from 'node:fs'
import path from 'node:path'
import type { ObjectType } from './cat-file.js'

/**
 * Writes one object as a loose file in the object database under `commonDir` and returns its id,
 * in-process with isomorphic-git: for the single small commit of a snapshot this is far cheaper
 * than starting `git commit-tree`. The id is computed from the content, as git does.
 * isomorphic-git loads on first use, so commands that never write objects do not pay for it.
 */
export async function writeLooseObject (objectDir: string, type: ObjectType, body: Uint8Array): Promise<string> {
  const git = await import('isomorphic-git')
  // isomorphic-git addresses the object database as <gitdir>/objects.
  const gitdir = path.dirname(objectDir)
  if (path.basename(objectDir) !== 'objects') throw new Error(`unexpected object directory ${objectDir}`)
  return await git.writeObject({ fs, gitdir, type, object: body, format: 'content' })
}
