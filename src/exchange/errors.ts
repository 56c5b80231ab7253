import type { RefusalCode } from './messages.js'

/** The serving peer refused the request; `code` says why, and nothing of the objects was sent. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError'
  constructor (readonly code: RefusalCode, message: string) {
    super(`refused (${code}): ${message}`)
  }
}

/** The peer sent objects whose content does not hash to the ids it declared, or objects it did not declare. */
export class ObjectMismatchError extends Error {
  override readonly name = 'ObjectMismatchError'
}

/** The peer broke the protocol: a message out of order, or a transfer that ended early. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
}

/** A want is not granted to the requesting peer. Never reveals whether the object exists. */
export class NotGrantedError extends Error {
  override readonly name = 'NotGrantedError'
}

/** The peer could not be reached: not running, no known address, or it does not trust us. */
export class PeerUnreachableError extends Error {
  override readonly name = 'PeerUnreachableError'
}
