import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { LogBatch, LogRequest } from '../jobs/messages.js'
import type { LogText } from './batcher.js'
import { InvalidMessageError } from '../wire/errors.js'
import { LOG_DEFLATE_LEVEL, MAX_LOG_INFLATED_BYTES } from './constants.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * `text` (or its bytes) as raw DEFLATE (RFC 1951) of its UTF-8 bytes, for a `log`'s `deflated` (protocol/jobs.md
 * §5.10); undefined when that is no smaller than the text itself (the batch then goes plain).
 */
export function deflateLogText (text: LogText, level = LOG_DEFLATE_LEVEL): Uint8Array | undefined {
  const raw = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
  const deflated = deflateRawSync(raw, { level })
  return deflated.byteLength < raw.byteLength ? deflated : undefined
}

/**
 * The batch of a `log` with its text plain: a deflated one is inflated with a hard bound on its
 * output (`maxBytes`), so a small message that would inflate to far more (a zip bomb) costs at
 * most `maxBytes` of work and memory and is refused. Throws `InvalidMessageError` (answered
 * `bad-request`) for bytes that are not raw DEFLATE, inflate past the bound or to nothing, or are
 * not UTF-8: offsets count the text's bytes, and a replaced character would shift them.
 */
export function plainLogBatch (message: LogRequest, maxBytes = MAX_LOG_INFLATED_BYTES): LogBatch {
  const { text, deflated, ...batch } = message
  if (deflated === undefined) return { ...batch, text: text ?? '' }
  let raw: Buffer
  try {
    raw = inflateRawSync(deflated, { maxOutputLength: maxBytes })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new InvalidMessageError(`deflated log text inflates past the ${maxBytes} bytes allowed`)
    throw new InvalidMessageError(`deflated log text is not raw deflate: ${(err as Error).message}`)
  }
  if (raw.byteLength === 0) throw new InvalidMessageError('deflated log text inflates to nothing')
  try {
    return { ...batch, text: utf8.decode(raw) }
  } catch {
    throw new InvalidMessageError('deflated log text is not UTF-8')
  }
}
