import type { PeerId, Stream, Connection, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { GitmeshNode } from '../net/node.js'
import { MessageChannel } from '../wire/channel.js'
import { InvalidMessageError, FrameTooLargeError } from '../wire/errors.js'
import { JOBS_PROTOCOL, MESSAGE_TIMEOUT_MS } from './constants.js'
import { JobReply, JobRequest, type JobReplyMessage, type JobRequestMessage } from './messages.js'

/** Sends one job message on a fresh stream and returns the peer's reply. */
export async function sendJobMessage (node: GitmeshNode, peer: PeerId, message: JobRequestMessage, options: { signal?: AbortSignal } = {}): Promise<JobReplyMessage> {
  const signal = options.signal ?? AbortSignal.timeout(MESSAGE_TIMEOUT_MS)
  const stream = await node.dialProtocol(peer, JOBS_PROTOCOL, { signal })
  try {
    const channel = new MessageChannel<JobReplyMessage, JobRequestMessage>(stream, JobReply)
    await channel.send(message, { signal })
    const reply = await channel.receive({ signal })
    if (reply === null) throw new InvalidMessageError('the peer closed the stream without replying')
    await stream.close({ signal }).catch(() => {})
    return reply
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export type JobMessageHandler = (message: JobRequestMessage, from: string) => Promise<JobReplyMessage>

/** Serves one job message per stream: read, validate, hand to `handler`, reply. */
export function jobStreamHandler (handler: JobMessageHandler, log: Logger): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const from = connection.remotePeer.toString()
    const channel = new MessageChannel<JobRequestMessage, JobReplyMessage>(stream, JobRequest)
    let replied = false
    try {
      const message = await channel.receive({ signal: AbortSignal.timeout(MESSAGE_TIMEOUT_MS) })
      if (message === null) {
        await stream.close()
        return
      }
      const reply = await handler(message, from)
      // The handler may have taken long (a result's objects are fetched first): a fresh timer.
      const signal = AbortSignal.timeout(MESSAGE_TIMEOUT_MS)
      replied = true
      await channel.send(reply, { signal })
      await stream.close({ signal })
    } catch (err) {
      const malformed = err instanceof InvalidMessageError || err instanceof FrameTooLargeError
      log.error('job message from %s failed - %e', from, err)
      if (replied) {
        // One reply per stream: a failure after it was written ends the stream, nothing more.
        stream.abort(err as Error)
        return
      }
      try {
        await channel.send({ type: 'decline', code: malformed ? 'bad-request' : 'internal', message: malformed ? (err as Error).message.slice(0, 500) : 'internal error' })
        await stream.close({ signal: AbortSignal.timeout(1000) })
      } catch {
        stream.abort(err as Error)
      }
    }
  }
}

/** Sends one job message to a peer (by peer id) and returns its reply: how the author and builder parts reach the network. */
export type SendJobMessage = (peer: string, message: JobRequestMessage, options?: { signal?: AbortSignal }) => Promise<JobReplyMessage>

/** The sender over a libp2p node's jobs protocol. */
export function jobMessageSender (node: GitmeshNode): SendJobMessage {
  return async (peer, message, options) => await sendJobMessage(node, peerIdFromString(peer), message, options)
}
