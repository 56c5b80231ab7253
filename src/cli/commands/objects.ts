import path from 'node:path'
import type { Command } from 'commander'
import ms from 'ms'
import { snapshotWorkingTree } from '../../git/snapshot.js'
import { ObjectStore } from '../../git/object-store.js'
import { locateObjectStore } from '../../git/repository.js'
import { isOid } from '../../git/oid.js'
import { checkOutFetched } from '../../git/checkout-fetched.js'
import { commandContext } from '../context.js'
import { formatBytes, UsageError } from '../output.js'

interface FetchResult {
  objects: number
  bytes: number
  roundTrips: number
  ms: number
  refs: string[]
  shallow: string[]
}

function parseDuration (text: string): number {
  const value = ms(text as ms.StringValue)
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`--expires ${JSON.stringify(text)} is not a duration such as 30m, 12h or 7d`)
  }
  return value
}

export function registerObjectCommands (program: Command): void {
  program.command('snapshot')
    .description('record the working tree as a commit S (parent HEAD) without changing anything you see')
    .option('--repo <dir>', 'the repository', '.')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh snapshot\n  gitmesh snapshot --repo ~/src/app --json')
    .action(async (opts: { repo: string }, command: Command) => {
      const { out } = commandContext(command)
      const snapshot = await snapshotWorkingTree(opts.repo)
      out.result({ commit: snapshot.commit, tree: snapshot.tree, parent: snapshot.parent ?? null }, () => snapshot.commit)
    })

  program.command('share')
    .description('grant a trusted peer the objects reachable from REV (`snapshot` shares a fresh snapshot)')
    .argument('<rev>', 'a revision, or `snapshot` to snapshot the working tree first')
    .requiredOption('--with <peer-id>', 'the peer to grant')
    .option('--repo <dir>', 'the repository', '.')
    .option('--expires <duration>', 'end the grant after this long (30m, 12h, 7d); default: never')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh share snapshot --with 12D3KooW...\n  gitmesh share main --with 12D3KooW... --expires 2h --json')
    .action(async (rev: string, opts: { with: string, repo: string, expires?: string }, command: Command) => {
      const { out, call } = commandContext(command)
      const expiresAt = opts.expires === undefined ? undefined : Date.now() + parseDuration(opts.expires)
      const paths = await locateObjectStore(opts.repo)
      const repo = paths.workTree ?? path.resolve(opts.repo)
      let commit: string | undefined
      let tree: string | undefined
      if (rev === 'snapshot') {
        const snapshot = await snapshotWorkingTree(opts.repo)
        commit = snapshot.commit
        tree = snapshot.tree
      } else {
        const store = await ObjectStore.open(opts.repo)
        try {
          commit = await store.resolveCommit(rev)
        } finally {
          store.close()
        }
        if (commit === undefined) throw new UsageError(`${JSON.stringify(rev)} does not name a commit in ${repo}`)
      }
      const grant = await call<{ peerId: string, root: string, expiresAt?: number }>('grant', { peerId: opts.with, root: commit, repo: path.resolve(repo), expiresAt })
      const result = { commit, tree: tree ?? null, peerId: grant.peerId, repo: path.resolve(repo), expiresAt: grant.expiresAt ?? null }
      out.result(result, () => `shared ${commit} with ${grant.peerId}${grant.expiresAt !== undefined ? ` until ${new Date(grant.expiresAt).toISOString()}` : ''}`)
    })

  program.command('fetch')
    .description('fetch everything reachable from OID that the repository at DIR lacks, from a peer')
    .argument('<peer-id>', 'the peer that shared the objects')
    .argument('<oid>', 'the commit to fetch (40 hex digits)')
    .requiredOption('--into <dir>', 'the local repository (created if needed)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh fetch 12D3KooW... 3f2a...c9 --into ./work\n  gitmesh fetch 12D3KooW... 3f2a...c9 --into ./work --json | jq .roundTrips')
    .action(async (peerId: string, oid: string, opts: { into: string }, command: Command) => {
      const { out, call } = commandContext(command)
      if (!isOid(oid)) throw new UsageError(`${JSON.stringify(oid)} is not a 40-hex object id`)
      const report = await call<FetchResult>('fetch', { peerId, oid, into: path.resolve(opts.into) }, {
        onEvent: event => {
          if (event.type === 'progress') out.progress(`receiving objects: ${String(event.objects)}/${String(event.totalObjects)}, ${formatBytes(Number(event.bytes))}`)
        }
      })
      out.endProgress()
      const into = path.resolve(opts.into)
      // The daemon stored the objects; the checkout is the user's own git, run here.
      const checkout = await checkOutFetched(into, oid)
      const result = { ...report, checkedOut: checkout.checkedOut }
      out.result(result, () => [
        `fetched ${report.objects} objects, ${formatBytes(report.bytes)} on the wire, ${report.roundTrips} round trip${report.roundTrips === 1 ? '' : 's'}, ${report.ms} ms`,
        ...report.refs,
        checkout.checkedOut
          ? `checked out ${oid} in ${into} (detached HEAD)`
          : `not checked out: ${checkout.reason}; to see it: git -C ${into} checkout --detach ${oid}`
      ])
    })
}
