import type { Command } from 'commander'
import { commandContext } from '../context.js'
import { collect } from '../options.js'


export function registerTrustCommands (program: Command): void {
  program.command('trust')
    .description('trust a peer (applied live): it may connect, and act in the given roles')
    .argument('<peer-id>', 'the peer\'s id, as `gitmesh id` prints it')
    .option('--role <role>', 'author or builder (repeatable)', collect)
    .option('--addr <multiaddr>', 'where to reach the peer (repeatable)', collect)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh trust 12D3KooW... --role builder --addr /ip4/192.168.1.20/tcp/4100\n  gitmesh trust 12D3KooW... --role author')
    .action(async (peerId: string, opts: { role?: string[], addr?: string[] }, command: Command) => {
      const { out, call } = commandContext(command)
      const peer = await call<{ peerId: string, roles: string[] }>('trust', { peerId, roles: opts.role ?? [], addrs: opts.addr ?? [] })
      out.result(peer, () => `trusted ${peer.peerId}${peer.roles.length > 0 ? ` as ${peer.roles.join(', ')}` : ''}`)
    })

  program.command('untrust')
    .description('stop trusting a peer (applied live: its connections are closed)')
    .argument('<peer-id>', 'the peer\'s id')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  gitmesh untrust 12D3KooW...')
    .action(async (peerId: string, _opts, command: Command) => {
      const { out, call } = commandContext(command)
      const result = await call<{ peerId: string, removed: boolean }>('untrust', { peerId })
      out.result(result, () => result.removed ? `no longer trusting ${peerId}` : `${peerId} was not trusted`)
    })
}
