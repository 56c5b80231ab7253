import type { Logger } from '@libp2p/interface'
import type { GitmeshNode } from '../net/node.js'
import type { Author } from '../author/author.js'
import type { Builder } from '../builder/builder.js'
import { JOBS_PROTOCOL, MAX_JOB_STREAMS } from '../jobs/constants.js'
import type { JobReplyMessage, JobRequestMessage } from '../jobs/messages.js'
import { jobStreamHandler } from '../jobs/wire.js'

/**
 * /gitmesh/jobs/1.0.0 on one node: offers and cancels go to its builder part (if it is a builder),
 * status updates and results to its author part.
 */
export class JobsService {
  constructor (private readonly node: GitmeshNode, private readonly author: Author, private readonly builder: Builder | undefined, private readonly log: Logger) {}

  async start (): Promise<void> {
    await this.node.handle(JOBS_PROTOCOL, jobStreamHandler(async (message, from) => await this.route(message, from), this.log, { budget: this.node.services.buffers }), {
      maxInboundStreams: MAX_JOB_STREAMS,
      maxOutboundStreams: MAX_JOB_STREAMS
    })
    await this.author.start()
    await this.builder?.start()
  }

  async stop (): Promise<void> {
    this.author.stop()
    await this.builder?.stop()
    await this.node.unhandle(JOBS_PROTOCOL).catch(() => {})
  }

  private async route (message: JobRequestMessage, from: string): Promise<JobReplyMessage> {
    switch (message.type) {
      case 'offer':
        return this.builder?.handleOffer(message, from) ?? { type: 'decline', code: 'not-builder', message: 'this node does not run jobs (start it with `gitmesh daemon --builder`)' }
      case 'cancel':
        return this.builder?.handleCancel(message, from) ?? { type: 'decline', code: 'not-builder', message: 'this node does not run jobs' }
      case 'status':
        return this.author.handleStatus(message, from)
      case 'result':
        return await this.author.handleResult(message, from)
      case 'load':
        return this.builder?.handleLoad(from) ?? { type: 'decline', code: 'not-builder', message: 'this node does not run jobs' }
      case 'lease':
        return this.author.handleLease(message, from)
      case 'handback':
        return this.author.handleHandback(message, from)
    }
  }
}
