import { EventEmitter } from 'node:events'
import type { Logger, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { GitmeshNode } from '../net/node.js'
import { JOBS_PROTOCOL, MAX_JOB_STREAMS, PEER_ID_CACHE_SIZE } from './constants.js'
import type { JobReplyMessage, JobRequestMessage } from './messages.js'
import { jobStreamHandler, sendJobMessage, type JobMessageHandler, type SendJobMessage } from './wire.js'

/** One job message that crossed the wire, as the network saw it. */
export interface JobMessageEvent {
  direction: 'in' | 'out'
  /** The other side (peer id). */
  peer: string
  type: JobRequestMessage['type']
  /** What came back: `ok`, a decline code, or `failed` when no reply arrived (the error says why). */
  outcome: string
  ms: number
  error?: Error
}

export interface JobsNetworkEvents {
  /** A peer connected (its first connection). */
  'peer:connect': [peer: string]
  /** A peer's last connection closed. */
  'peer:disconnect': [peer: string]
  /** A request was answered (in), or a reply to ours arrived or did not (out). */
  message: [JobMessageEvent]
}

/**
 * What the author and builder parts need of the network: send a message, hear of peers coming and
 * going. Tests give them one of their own (an EventEmitter with a `send`).
 */
export type JobLink = Pick<EventEmitter<JobsNetworkEvents>, 'on' | 'off'> & { send: SendJobMessage }

/**
 * /gitmesh/jobs/1.0.0 on one node, moving messages and nothing else: every request that arrives
 * goes to the one handler given to `serve` (a request has exactly one answer), every message of
 * ours goes out on a fresh stream with its deadline, and what happens is emitted as typed events,
 * peers connecting and leaving included. Deciding is the author's and builder's parts' job.
 */
export class JobsNetwork extends EventEmitter<JobsNetworkEvents> implements JobLink {
  private handler?: JobMessageHandler
  private started = false
  /**
   * Peer ids by their string, parsed once: a builder sends a flood's log in many messages, and a
   * fresh PeerId is parsed (an Ed25519 key checked) and base58-printed again for every lookup.
   */
  private readonly peerIds = new Map<string, PeerId>()

  constructor (private readonly node: GitmeshNode, private readonly log: Logger) {
    super()
  }

  /** Who answers incoming requests; set before `start`. */
  serve (handler: JobMessageHandler): void {
    this.handler = handler
  }

  /** Registers the protocol and follows peers; calling it again does nothing. */
  async start (): Promise<void> {
    if (this.started) return
    const handler = this.handler
    if (handler === undefined) throw new Error('JobsNetwork.serve must be called before start')
    this.started = true
    const timed: JobMessageHandler = async (message, from) => {
      const started = Date.now()
      const reply = await handler(message, from)
      this.emit('message', { direction: 'in', peer: from, type: message.type, outcome: outcome(reply), ms: Date.now() - started })
      return reply
    }
    await this.node.handle(JOBS_PROTOCOL, jobStreamHandler(timed, this.log, { budget: this.node.services.buffers }), {
      maxInboundStreams: MAX_JOB_STREAMS,
      maxOutboundStreams: MAX_JOB_STREAMS
    })
    this.node.addEventListener('peer:connect', this.onConnect)
    this.node.addEventListener('peer:disconnect', this.onDisconnect)
  }

  /** Stops serving and following peers; safe to call twice, or without a start. */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.node.removeEventListener('peer:connect', this.onConnect)
    this.node.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.node.unhandle(JOBS_PROTOCOL).catch(() => {})
  }

  /** Sends one message to a peer on a fresh stream and returns its reply (see sendJobMessage). */
  readonly send: SendJobMessage = async (peer, message, options) => {
    const started = Date.now()
    try {
      const reply = await sendJobMessage(this.node, this.peerId(peer), message, options)
      this.emit('message', { direction: 'out', peer, type: message.type, outcome: outcome(reply), ms: Date.now() - started })
      return reply
    } catch (err) {
      this.emit('message', { direction: 'out', peer, type: message.type, outcome: 'failed', ms: Date.now() - started, error: err as Error })
      throw err
    }
  }

  private peerId (peer: string): PeerId {
    let id = this.peerIds.get(peer)
    if (id === undefined) {
      // Only trusted peers are sent to, so this stays small; the bound is a guard.
      if (this.peerIds.size >= PEER_ID_CACHE_SIZE) this.peerIds.clear()
      id = peerIdFromString(peer)
      this.peerIds.set(peer, id)
    }
    return id
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.emit('peer:connect', evt.detail.toString())
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.emit('peer:disconnect', evt.detail.toString())
  }
}

function outcome (reply: JobReplyMessage): string {
  return reply.type === 'ok' ? 'ok' : reply.code
}
