/** Errors of the wire layer. "Malformed" (cannot be parsed) is apart from "not allowed". */

/** A frame or message that cannot be decoded or does not match its schema. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError'
}

/** A frame whose length prefix exceeds the cap; nothing of its body was read. */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError'
  constructor (readonly bytes: number, readonly limit: number) {
    super(`frame of ${bytes} bytes exceeds the limit of ${limit}`)
  }
}

/** A peer's readers hold as many bytes as its budget (or the node's) allows, and a frame is still incomplete. */
export class BufferBudgetError extends Error {
  override readonly name = 'BufferBudgetError'
}

/** The stream ended in the middle of a frame. */
export class UnexpectedEndError extends Error {
  override readonly name = 'UnexpectedEndError'
}

/**
 * Input that could not be read as a message: a bad frame or prefix, bytes that are not plain
 * CBOR, a schema failure, or a stream that ended inside a frame. Answered `bad-request`.
 */
export function isMalformed (err: unknown): boolean {
  return err instanceof InvalidMessageError || err instanceof FrameTooLargeError || err instanceof UnexpectedEndError
}
