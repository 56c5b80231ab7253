import { EventEmitter } from 'node:events'
import type { JobLink, JobsNetworkEvents } from '../../src/jobs/network.js'
import type { JobReplyMessage, JobRequestMessage } from '../../src/jobs/messages.js'

/** A message the parts under test sent, and to whom. */
export interface SentMessage {
  peer: string
  message: JobRequestMessage
}

/**
 * The network as the author's and builder's parts see it, in memory: every message they send is
 * recorded and answered by `answer` (which may throw, as an unreachable peer does); peers come
 * and go with `connect`/`disconnect`.
 */
export class RecordingLink extends EventEmitter<JobsNetworkEvents> implements JobLink {
  readonly sent: SentMessage[] = []

  constructor (public answer: (peer: string, message: JobRequestMessage) => JobReplyMessage | Promise<JobReplyMessage> = () => ({ type: 'ok' })) {
    super()
  }

  readonly send = async (peer: string, message: JobRequestMessage): Promise<JobReplyMessage> => {
    this.sent.push({ peer, message })
    return await this.answer(peer, message)
  }

  /** Messages of one type that were sent. */
  of<T extends JobRequestMessage['type']> (type: T): Array<{ peer: string, message: Extract<JobRequestMessage, { type: T }> }> {
    return this.sent.filter(sent => sent.message.type === type) as Array<{ peer: string, message: Extract<JobRequestMessage, { type: T }> }>
  }

  connect (peer: string): void {
    this.emit('peer:connect', peer)
  }

  disconnect (peer: string): void {
    this.emit('peer:disconnect', peer)
  }
}

/** An exchange for parts that must not fetch in a test: any use fails it. */
export const noExchange = {
  fetch: async (): Promise<never> => { throw new Error('this test fetches nothing') },
  openStore: async (): Promise<never> => { throw new Error('this test stores nothing') }
}
