#!/usr/bin/env node
import '../polyfill.js'
import { Command, CommanderError } from 'commander'
import { registerNodeCommands } from './commands/node.js'
import { registerTrustCommands } from './commands/trust.js'
import { registerObjectCommands } from './commands/objects.js'
import { registerJobCommands } from './commands/jobs.js'
import { registerWatchCommand } from './commands/watch.js'
import { registerHousekeepingCommands } from './commands/housekeeping.js'
import { registerServiceCommands } from './commands/service.js'
import { registerDoctorCommand } from './commands/doctor.js'
import { registerLogsCommand } from './commands/logs.js'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { printError } from './output.js'

const program = new Command('gitmesh')
  .description('peer-to-peer git object sync for prompt-driven development')
  .version('0.1.0')
  .option('--home <dir>', 'the node\'s home (default: $GITMESH_HOME, else the per-user data directory)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addHelpText('after', `
Examples:
  gitmesh init && gitmesh daemon &           start a node
  gitmesh id --json                          its peer id and addresses
  gitmesh trust 12D3KooW... --role builder --addr /ip4/10.0.0.5/tcp/4100
  gitmesh share snapshot --with 12D3KooW...  snapshot the working tree and grant it
  gitmesh fetch 12D3KooW... <commit> --into ./work

Exit codes: 0 ok, 1 failure, 2 bad usage or input, 3 no daemon or home, 4 refused by the peer,
5 transfer failed, 6 job failed (offer --wait), 7 no builder can take the job (offer --wait).`)

registerNodeCommands(program)
registerTrustCommands(program)
registerObjectCommands(program)
registerJobCommands(program)
registerWatchCommand(program)
registerHousekeepingCommands(program)
registerServiceCommands(program)
registerDoctorCommand(program)
registerLogsCommand(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are successes; commander has already printed its message otherwise.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage
  } else {
    printError(err)
    process.exitCode = exitCodeFor(err)
  }
}
