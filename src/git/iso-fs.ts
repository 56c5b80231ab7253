import { readFileSync } from 'node:fs'
import * as nodeFs from 'node:fs/promises'
import path from 'node:path'
import type { PromiseFsClient } from 'isomorphic-git'

/** The file operations the atomic write is made of; a test may replace one to inject a failure. */
export interface WritePrimitives {
  writeFile: typeof nodeFs.writeFile
  rename: typeof nodeFs.rename
  unlink: typeof nodeFs.unlink
}

const NODE_PRIMITIVES: WritePrimitives = { writeFile: nodeFs.writeFile, rename: nodeFs.rename, unlink: nodeFs.unlink }

type WriteOptions = Parameters<typeof nodeFs.writeFile>[2]

/**
 * Writes `data` to a temporary file beside `file` and renames it into place. A rename within one
 * directory is atomic, so a reader (or a crash) sees the old file, or none, or the whole new one:
 * never a truncated loose object, ref or index. The temporary name starts with `tmp_`, as git's
 * own do, so `git prune` removes one that a crash left among the loose objects.
 */
export async function writeFileAtomic (file: string, data: string | Uint8Array, options?: WriteOptions, primitives: WritePrimitives = NODE_PRIMITIVES): Promise<void> {
  const temp = path.join(path.dirname(file), `tmp_obj_gitmesh_${process.pid}_${Math.random().toString(36).slice(2)}`)
  try {
    await primitives.writeFile(temp, data, withExclusiveFlag(options))
    await primitives.rename(temp, file)
  } catch (err) {
    await primitives.unlink(temp).catch(() => { /* never created, or already renamed */ })
    throw err
  }
}

/** Options with flag 'wx': a temporary name that already exists is someone else's file. */
function withExclusiveFlag (options: WriteOptions): WriteOptions {
  if (typeof options === 'string') return { encoding: options as BufferEncoding, flag: 'wx' }
  return { ...options, flag: 'wx' }
}

/**
 * The `fs` client given to isomorphic-git: Node's own file functions, except that every
 * `writeFile` is atomic (isomorphic-git writes loose objects, refs and the index in place, and a
 * crash half-way would leave a truncated file that git reports as corrupt).
 */
export function atomicIsoFs (primitives: WritePrimitives = NODE_PRIMITIVES): PromiseFsClient {
  return {
    promises: {
      readFile: nodeFs.readFile,
      writeFile: async (file: string, data: string | Uint8Array, options?: WriteOptions) => { await writeFileAtomic(file, data, options, primitives) },
      unlink: nodeFs.unlink,
      readdir: nodeFs.readdir,
      mkdir: nodeFs.mkdir,
      rmdir: nodeFs.rmdir,
      rm: nodeFs.rm,
      stat: nodeFs.stat,
      lstat: nodeFs.lstat,
      readlink: nodeFs.readlink,
      symlink: nodeFs.symlink,
      chmod: nodeFs.chmod
    }
  } as PromiseFsClient
}

/** One client for the whole process: it holds no state. */
export const isoFs: PromiseFsClient = atomicIsoFs()

/**
 * The same client with every `objects/pack` folder shown empty, so isomorphic-git reads loose
 * objects only and a packed object is "not found". isomorphic-git reads a whole pack into memory
 * to take one object out of it (and parses its whole index): fine for a small pack, not for a
 * user's repository whose pack may be hundreds of megabytes. Callers fall back to git, which maps
 * packs, when an object is not found here.
 */
export const looseObjectsIsoFs: PromiseFsClient = {
  promises: {
    ...isoFs.promises,
    // Loose objects and `shallow` are small: one synchronous read takes microseconds, where
    // fs.promises.readFile makes four trips through the thread pool (open, stat, read, close).
    readFile: async (file: string, options?: unknown) => readFileSync(file, options as undefined),
    readdir: async (dir: string, options?: unknown) => {
      if (path.basename(dir) === 'pack' && path.basename(path.dirname(dir)) === 'objects') return []
      return await nodeFs.readdir(dir, options as undefined)
    }
  }
}
