import type { PeerId, Stream, Connection, Logger } from '@libp2p/interface'
import type { GitmeshNode } from '../net/node.js'
import { MessageChannel } from '../wire/channel.js'
import { BufferBudgetError, InvalidMessageError, isMalformed } from '../wire/errors.js'
import type { BufferBudget } from '../wire/budget.js'
import { Deadline, withDeadline } from '../wire/deadline.js'
import { JOBS_PROTOCOL, MESSAGE_TIMEOUT_MS, REPLY_TIMEOUT_MS } from './constants.js'
import { JobReply, JobRequest, type JobReplyMessage, type JobRequestMessage } from './messages.js'

/** Sends one job message on a fresh stream and returns the peer's reply. */
export async function sendJobMessage (node: GitmeshNode, peer: PeerId, message: JobRequestMessage, options: { signal?: AbortSignal } = {}): Promise<JobReplyMessage> {
  // A caller's signal replaces the default deadline (a result may take 10 min); the default is a
  // timer of our own, cleared when the exchange ends.
  if (options.signal !== undefined) return await exchangeJobMessage(node, peer, message, options.signal)
  return await withDeadline(MESSAGE_TIMEOUT_MS, undefined, async signal => await exchangeJobMessage(node, peer, message, signal))
}

async function exchangeJobMessage (node: GitmeshNode, peer: PeerId, message: JobRequestMessage, signal: AbortSignal): Promise<JobReplyMessage> {
  const stream = await node.dialProtocol(peer, JOBS_PROTOCOL, { signal })
  const channel = new MessageChannel<JobReplyMessage, JobRequestMessage>(stream, JobReply, { budget: node.services.buffers.forPeer(peer.toString()) })
  try {
    await channel.send(message, { signal })
    const reply = await channel.receive({ signal })
    if (reply === null) throw new InvalidMessageError('the peer closed the stream without replying')
    await stream.close({ signal }).catch(() => {})
    return reply
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    channel.dispose()
  }
}

export type JobMessageHandler = (message: JobRequestMessage, from: string) => Promise<JobReplyMessage>

/** Serves one job message per stream: read, validate, hand to `handler`, reply. */
export function jobStreamHandler (handler: JobMessageHandler, log: Logger, init: { messageTimeoutMs?: number, budget?: BufferBudget } = {}): (stream: Stream, connection: Connection) => Promise<void> {
  /** @default MESSAGE_TIMEOUT_MS */
  const messageTimeoutMs = init.messageTimeoutMs ?? MESSAGE_TIMEOUT_MS
  return async (stream, connection) => {
    const from = connection.remotePeer.toString()
    const channel = new MessageChannel<JobRequestMessage, JobReplyMessage>(stream, JobRequest, { budget: init.budget?.forPeer(from) })
    // Timers of our own, cleared in finally: every deadline fires, however busy the daemon is.
    const arrival = new Deadline(messageTimeoutMs)
    let reply: Deadline | undefined
    let requestRead = false
    let replied = false
    try {
      const message = await channel.receive({ signal: arrival.signal })
      requestRead = true
      arrival.clear()
      if (message === null) {
        await withDeadline(MESSAGE_TIMEOUT_MS, undefined, async signal => { await stream.close({ signal }) })
        return
      }
      const answer = await handler(message, from)
      // The handler may have taken long (a result's objects are fetched first): a fresh timer.
      reply = new Deadline(MESSAGE_TIMEOUT_MS)
      replied = true
      await channel.send(answer, { signal: reply.signal })
      await stream.close({ signal: reply.signal })
    } catch (err) {
      const malformed = isMalformed(err)
      const lateRequest = !requestRead && arrival.signal.aborted
      log.error('job message from %s failed - %e', from, err)
      if (replied) {
        // One reply per stream: a failure after it was written ends the stream, nothing more.
        stream.abort(err as Error)
        return
      }
      // A peer over its buffer budget had its stream reset by the reader: nothing to answer.
      if (err instanceof BufferBudgetError) return
      try {
        const code = malformed || lateRequest ? 'bad-request' : 'internal'
        const text = malformed ? (err as Error).message.slice(0, 500) : lateRequest ? `no complete request within ${messageTimeoutMs} ms` : 'internal error'
        await withDeadline(REPLY_TIMEOUT_MS, undefined, async signal => {
          await channel.send({ type: 'decline', code, message: text }, { signal })
          await stream.close({ signal })
        })
      } catch {
        stream.abort(err as Error)
      }
    } finally {
      // One request per stream: nothing the peer sends from now on is kept.
      channel.dispose()
      arrival.clear()
      reply?.clear()
    }
  }
}

/** Sends one job message to a peer (by peer id) and returns its reply: how the author and builder parts reach the network (src/jobs/network.ts). */
export type SendJobMessage = (peer: string, message: JobRequestMessage, options?: { signal?: AbortSignal }) => Promise<JobReplyMessage>
