import path from 'node:path'
import git from 'isomorphic-git'
import { isoFs } from './iso-fs.js'

export interface CommitIdentity {
  name: string
  email: string
}

export interface NewCommit {
  tree: string
  parents: readonly string[]
  /** Author and committer both. */
  identity: CommitIdentity
  message: string
  /** Seconds since the epoch; now when omitted. */
  timestamp?: number
}

/**
 * Writes one commit object into `objectDir` (the repository's `objects` folder) and returns its id.
 * isomorphic-git serialises and hashes it and writes the loose object through the atomic `fs`
 * (iso-fs.ts), in-process: far cheaper than starting `git commit-tree`. Times are written in UTC
 * (+0000), so a commit never reveals the machine's time zone. isomorphic-git drops the message's
 * carriage returns and leading blank lines and ends it with exactly one newline.
 */
export async function writeCommitObject (objectDir: string, commit: NewCommit): Promise<string> {
  // git keeps objects in <common git dir>/objects (gitmesh runs git without GIT_OBJECT_DIRECTORY),
  // and isomorphic-git writes to <gitdir>/objects.
  if (path.basename(objectDir) !== 'objects') throw new Error(`${objectDir} is not a repository's objects folder`)
  const signature = { ...commit.identity, timestamp: commit.timestamp ?? Math.floor(Date.now() / 1000), timezoneOffset: 0 }
  return await git.writeCommit({
    fs: isoFs,
    gitdir: path.dirname(objectDir),
    commit: { tree: commit.tree, parent: [...commit.parents], author: signature, committer: signature, message: commit.message }
  })
}
