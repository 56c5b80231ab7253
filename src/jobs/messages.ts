import { z } from 'zod'
import { setupKeyPathProblem } from './setup-key.js'
import { MAX_SETUP_KEY_FILES, MIN_PRIORITY, MAX_PRIORITY, MAX_TAGS, MAX_TAG_CHARS, MAX_TEST_COMMAND_CHARS, MAX_ATTEMPT_LOG_BYTES, MAX_ATTEMPTS, MAX_COMMAND_TIMEOUT_MS, MAX_NAME_CHARS, MAX_PROGRESS_CHARS, MAX_PROMPT_CHARS, MAX_SUMMARY_CHARS, MAX_REPORTED_COST_USD } from './constants.js'
import { MAX_LOG_INFLATED_BYTES, MAX_LOG_TEXT_BYTES } from '../logs/constants.js'

/**
 * Messages of /gitmesh/jobs/1.0.0. Every exchange is one request and one reply on a fresh stream:
 * author → builder `offer` and `cancel`; builder → author `status`, `log` and `result`.
 * protocol/jobs.md is the normative form; key order here is the order on the wire.
 */

const bytes = z.custom<Uint8Array>(value => value instanceof Uint8Array, 'expected a byte string')
const oid = bytes.refine(value => value.byteLength === 20, 'object id must be 20 bytes')
const jobId = z.string().regex(/^[0-9a-f]{12}$/, 'job id must be 12 hex digits')
const round = z.number().int().min(1).max(1_000_000)
const count = z.number().int().nonnegative().max(2 ** 32 - 1)
const timeoutMs = z.number().int().positive().max(MAX_COMMAND_TIMEOUT_MS)
const setupKeyPath = z.string().superRefine((file, ctx) => {
  const problem = setupKeyPathProblem(file)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `setup key path ${problem}` })
})

/** gitmesh.json's `setup` and `setupKey` (jobs.md §5.1): run once per job before attempt 1, cached by the key files. */
export const JobSetupSchema = z.strictObject({
  command: z.string().min(1).max(MAX_TEST_COMMAND_CHARS),
  key: z.array(setupKeyPath).max(MAX_SETUP_KEY_FILES)
})

/** The timeouts gitmesh.json sets itself: they take precedence over the builder's own defaults. */
export const ProjectTimeoutsSchema = z.strictObject({
  generate: timeoutMs.optional(),
  setup: timeoutMs.optional(),
  idle: timeoutMs.optional()
})

export const JobSpecSchema = z.strictObject({
  id: jobId,
  name: z.string().min(1).max(MAX_NAME_CHARS).regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'name must be kebab-case'),
  round,
  prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
  snapshot: oid,
  repo: z.string().regex(/^[0-9a-f]{16}$/, 'repo key must be 16 hex digits'),
  test: z.string().min(1).max(MAX_TEST_COMMAND_CHARS),
  attempts: z.number().int().min(1).max(MAX_ATTEMPTS),
  generateTimeoutMs: timeoutMs,
  testTimeoutMs: timeoutMs,
  priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).optional(),
  setup: JobSetupSchema.optional(),
  timeouts: ProjectTimeoutsSchema.optional()
})

export const OfferMessage = z.strictObject({ type: z.literal('offer'), job: JobSpecSchema })
export const CancelMessage = z.strictObject({ type: z.literal('cancel'), job: jobId, round })
/** author → builder: how loaded are you, and what are your tags? */
export const LoadMessage = z.strictObject({ type: z.literal('load') })
/** builder → author: the jobs of yours I hold; their leases are renewed. */
export const LeaseMessage = z.strictObject({ type: z.literal('lease'), jobs: z.array(z.strictObject({ job: jobId, round })).max(10_000) })
/** either way: which roles do you trust me with? (`gitmesh doctor` asks every trusted peer) */
export const RolesMessage = z.strictObject({ type: z.literal('roles') })
/** builder → author: I will not run this job (I am shutting down); offer it elsewhere. */
export const HandbackMessage = z.strictObject({ type: z.literal('handback'), job: jobId, round, reason: z.string().max(MAX_SUMMARY_CHARS) })

export const BUILDER_STATES = ['queued', 'fetching', 'setup', 'generating', 'testing'] as const
export const StatusMessage = z.strictObject({
  type: z.literal('status'),
  job: jobId,
  round,
  state: z.enum(BUILDER_STATES),
  attempt: count,
  line: z.string().max(MAX_PROGRESS_CHARS)
})

export const LOG_STEPS = ['setup', 'generate', 'test'] as const
/**
 * builder → author: the next piece of a job round's live output. `offset` is the byte offset of
 * `text` (UTF-8) within that round's log stream from this builder, so the author sees a gap or a
 * repeat; `gap` says the builder no longer holds the bytes before `offset` that the author lacks.
 * The text comes as `text`, or as `deflated`: raw DEFLATE of its UTF-8 bytes (offsets still count
 * the text's bytes), never both; the author inflates it within `MAX_LOG_INFLATED_BYTES` (deflate.ts).
 */
export const LogMessage = z.strictObject({
  type: z.literal('log'),
  job: jobId,
  round,
  attempt: z.number().int().min(0).max(MAX_ATTEMPTS),
  step: z.enum(LOG_STEPS),
  offset: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  text: z.string().min(1).max(MAX_LOG_TEXT_BYTES).optional(),
  deflated: bytes.refine(value => value.byteLength >= 1 && value.byteLength <= MAX_LOG_INFLATED_BYTES, `deflated text must be 1 to ${MAX_LOG_INFLATED_BYTES} bytes`).optional(),
  gap: z.literal(true).optional()
}).refine(message => (message.text === undefined) !== (message.deflated === undefined), 'a log carries exactly one of text and deflated')

export const AttemptReportSchema = z.strictObject({
  number: z.number().int().min(1).max(MAX_ATTEMPTS),
  passed: z.boolean(),
  generateMs: count,
  testMs: count,
  log: z.string().max(MAX_ATTEMPT_LOG_BYTES * 2),
  /** Usage the agent reported for this attempt (presets that report it); absent when unknown. */
  inputTokens: count.optional(),
  outputTokens: count.optional(),
  costUsd: z.number().nonnegative().max(MAX_REPORTED_COST_USD).optional()
})

/** Fields of a result in signing order; `signature` covers the CBOR encoding of exactly these. */
export const ResultBodySchema = z.strictObject({
  type: z.literal('result'),
  job: jobId,
  round,
  builder: z.string().min(1).max(128),
  commit: oid.optional(),
  passed: z.boolean(),
  error: z.string().max(MAX_SUMMARY_CHARS).optional(),
  summary: z.string().max(MAX_SUMMARY_CHARS),
  committedAt: z.number().int().nonnegative(),
  attempts: z.array(AttemptReportSchema).max(MAX_ATTEMPTS)
})
export const ResultMessage = ResultBodySchema.extend({ signature: bytes.refine(value => value.byteLength <= 256, 'signature too long') })

export const REPLY_CODES = ['not-author', 'not-builder', 'full', 'unknown-job', 'retry', 'bad-request', 'internal'] as const
export const OkReply = z.strictObject({
  type: z.literal('ok'),
  slots: count.optional(),
  running: count.optional(),
  queued: count.optional(),
  tags: z.array(z.string().min(1).max(MAX_TAG_CHARS)).max(MAX_TAGS).optional(),
  /** Reply to `log`: the offset up to which the author now holds the stream. */
  offset: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  /** The answer to `roles`: the roles the replying node trusts the asker with. */
  roles: z.array(z.enum(['author', 'builder'])).max(2).refine(roles => new Set(roles).size === roles.length, 'roles must not repeat').optional()
})
export const DeclineReply = z.strictObject({ type: z.literal('decline'), code: z.enum(REPLY_CODES), message: z.string().max(512) })

export const JobRequest = z.discriminatedUnion('type', [OfferMessage, CancelMessage, StatusMessage, LogMessage, ResultMessage, LoadMessage, LeaseMessage, HandbackMessage, RolesMessage])
export const JobReply = z.discriminatedUnion('type', [OkReply, DeclineReply])

export type JobSpec = z.infer<typeof JobSpecSchema>
export type JobRequestMessage = z.infer<typeof JobRequest>
export type JobReplyMessage = z.infer<typeof JobReply>
export type OfferRequest = z.infer<typeof OfferMessage>
export type CancelRequest = z.infer<typeof CancelMessage>
export type LeaseRequest = z.infer<typeof LeaseMessage>
export type HandbackRequest = z.infer<typeof HandbackMessage>
export type StatusUpdate = z.infer<typeof StatusMessage>
/** A `log` as it crossed the wire: its text plain or deflated. */
export type LogRequest = z.infer<typeof LogMessage>
/** A `log`'s batch with its text plain, as the author keeps it (deflate.ts `plainLogBatch`). */
export type LogBatch = Omit<LogRequest, 'text' | 'deflated'> & { text: string }
export type LogStep = typeof LOG_STEPS[number]
export type ResultBody = z.infer<typeof ResultBodySchema>
export type ResultAnnouncement = z.infer<typeof ResultMessage>
export type AttemptReport = z.infer<typeof AttemptReportSchema>
export type ReplyCode = typeof REPLY_CODES[number]
