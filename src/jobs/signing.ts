import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { encodeCbor } from '../wire/codec.js'
import type { ResultAnnouncement, ResultBody } from './messages.js'

/** A result's fields in schema order (the order on the wire); absent optional fields have no key. */
export function orderedResult<T extends ResultBody> (body: T): T {
  const ordered: Record<string, unknown> = {
    type: body.type,
    job: body.job,
    round: body.round,
    builder: body.builder
  }
  if (body.commit !== undefined) ordered.commit = body.commit
  ordered.passed = body.passed
  if (body.error !== undefined) ordered.error = body.error
  ordered.summary = body.summary
  ordered.committedAt = body.committedAt
  ordered.attempts = body.attempts.map(a => ({
    number: a.number,
    passed: a.passed,
    generateMs: a.generateMs,
    testMs: a.testMs,
    log: a.log,
    ...(a.inputTokens !== undefined ? { inputTokens: a.inputTokens } : {}),
    ...(a.outputTokens !== undefined ? { outputTokens: a.outputTokens } : {}),
    ...(a.costUsd !== undefined ? { costUsd: a.costUsd } : {})
  }))
  if ('signature' in body) ordered.signature = (body as unknown as ResultAnnouncement).signature
  return ordered as T
}

/** The bytes a result's signature covers: its fields in schema order, signature left out. */
function signedBytes (body: ResultBody): Uint8Array {
  const { signature: _signature, ...fields } = body as ResultAnnouncement
  return encodeCbor(orderedResult(fields))
}

/** Signs a result with the builder's identity key, so the author holds a receipt it can show. */
export async function signResult (key: PrivateKey, body: ResultBody): Promise<ResultAnnouncement> {
  const signature = await key.sign(signedBytes(body))
  return orderedResult({ ...body, signature })
}

/** True when the signature is the named builder's, over exactly these fields. */
export async function verifyResult (result: ResultAnnouncement): Promise<boolean> {
  try {
    const publicKey = peerIdFromString(result.builder).publicKey
    if (publicKey === undefined) return false
    const { signature, ...body } = result
    return await publicKey.verify(signedBytes(body), signature)
  } catch {
    return false
  }
}
