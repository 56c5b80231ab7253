import type { Author } from '../author/author.js'
import type { Builder } from '../builder/builder.js'
import type { JobReplyMessage, JobRequestMessage } from '../jobs/messages.js'
import type { JobsNetwork } from '../jobs/network.js'
import type { TrustStore } from '../store/trust-store.js'

/**
 * The jobs protocol on one node, composed: the network moves the messages; offers, cancels and
 * load questions go to its builder part (if it is a builder), status updates, live logs, leases,
 * handbacks and results to its author part.
 */
export class JobsService {
  constructor (private readonly network: JobsNetwork, private readonly author: Author, private readonly builder: Builder | undefined, private readonly trust: TrustStore) {
    network.serve(async (message, from) => await this.route(message, from))
  }

  async start (): Promise<void> {
    await this.network.start()
    await this.author.start()
    await this.builder?.start()
  }

  async stop (): Promise<void> {
    this.author.stop()
    await this.builder?.stop()
    await this.network.stop()
  }

  private async route (message: JobRequestMessage, from: string): Promise<JobReplyMessage> {
    switch (message.type) {
      case 'offer':
        return this.builder?.handleOffer(message, from) ?? { type: 'decline', code: 'not-builder', message: 'this node does not run jobs (start it with `gitmesh daemon --builder`)' }
      case 'cancel':
        return this.builder?.handleCancel(message, from) ?? { type: 'decline', code: 'not-builder', message: 'this node does not run jobs' }
      case 'status':
        return this.author.handleStatus(message, from)
      case 'log':
        return this.author.handleLog(message, from)
      case 'result':
        return await this.author.handleResult(message, from)
      case 'load':
        return this.builder?.handleLoad(from) ?? { type: 'decline', code: 'not-builder', message: 'this node does not run jobs' }
      case 'lease':
        return this.author.handleLease(message, from)
      case 'handback':
        return this.author.handleHandback(message, from)
      case 'roles':
        // Only the asker's own roles: a node tells no one how it trusts anybody else.
        return { type: 'ok', roles: this.trust.get(from)?.roles ?? [] }
    }
  }
}
