import git from 'isomorphic-git'
import { looseObjectsIsoFs } from './iso-fs.js'

/**
 * The type of object `oid` when it is stored loose in `commonDir/objects`, read and re-hashed
 * in-process by isomorphic-git; undefined when it is packed or missing (the caller asks git,
 * which maps packs). Snapshots, results and objects received in small packs are loose, so a
 * one-off question about them costs no process start.
 */
export async function looseObjectType (commonDir: string, oid: string): Promise<string | undefined> {
  try {
    const { type } = await git.readObject({ fs: looseObjectsIsoFs, gitdir: commonDir, oid, format: 'content' })
    return type
  } catch (err) {
    if ((err as { code?: string }).code === 'NotFoundError') return undefined
    throw err
  }
}
