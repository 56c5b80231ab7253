import { MAX_AGENT_JSON_LINE_BYTES, MAX_AGENT_JSON_LINES, MAX_AGENT_MESSAGE_CHARS, MAX_USAGE_COST_USD, MAX_USAGE_TOKENS } from './constants.js'
import type { AgentUsage } from './preset.js'

/** A JSON object from an agent's log: fields are read with the helpers below, never trusted to have a shape. */
export type JsonEvent = Record<string, unknown>

/**
 * The JSON objects among the last `MAX_AGENT_JSON_LINES` lines of `output`. Anything else (stderr
 * text mixed into the same pipe, a truncation note, a half-written line, an over-long line) is
 * skipped: an agent's log is input from a program we do not control.
 */
export function jsonLines (output: string): JsonEvent[] {
  const lines = output.split('\n')
  const events: JsonEvent[] = []
  for (const raw of lines.slice(-MAX_AGENT_JSON_LINES)) {
    const line = raw.trim()
    if (!line.startsWith('{') || line.length > MAX_AGENT_JSON_LINE_BYTES) continue
    try {
      const value: unknown = JSON.parse(line)
      if (isObject(value)) events.push(value)
    } catch {
      // Not JSON after all (a log line starting with a brace): skipped.
    }
  }
  return events
}

export function isObject (value: unknown): value is JsonEvent {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function field (value: unknown, ...keys: string[]): unknown {
  let current = value
  for (const key of keys) {
    if (!isObject(current)) return undefined
    current = current[key]
  }
  return current
}

export function text (value: unknown, ...keys: string[]): string | undefined {
  const found = field(value, ...keys)
  return typeof found === 'string' ? found : undefined
}

export function number (value: unknown, ...keys: string[]): number | undefined {
  const found = field(value, ...keys)
  return typeof found === 'number' && Number.isFinite(found) && found >= 0 ? found : undefined
}

/** An agent's message, one line, cut to `MAX_AGENT_MESSAGE_CHARS`. */
export function shortMessage (message: string): string {
  const flat = message.replace(/\s+/g, ' ').trim()
  return flat.length <= MAX_AGENT_MESSAGE_CHARS ? flat : `${flat.slice(0, MAX_AGENT_MESSAGE_CHARS - 1)}…`
}

/** The last non-empty line of `output`: what a command said last, for a failure with nothing better. */
export function lastLine (output: string): string {
  const lines = output.trimEnd().split('\n')
  return shortMessage(lines[lines.length - 1] ?? '')
}

/** Sums figures, or undefined when none was reported. */
export function sum (values: Array<number | undefined>): number | undefined {
  const present = values.filter((v): v is number => v !== undefined)
  return present.length === 0 ? undefined : present.reduce((a, b) => a + b, 0)
}

/** Usage with implausible figures dropped and empty usage as undefined. */
export function boundedUsage (usage: AgentUsage): AgentUsage | undefined {
  const result: AgentUsage = {}
  const tokens = (n: number | undefined): number | undefined => n !== undefined && n <= MAX_USAGE_TOKENS ? Math.round(n) : undefined
  const input = tokens(usage.inputTokens)
  const output = tokens(usage.outputTokens)
  if (input !== undefined) result.inputTokens = input
  if (output !== undefined) result.outputTokens = output
  if (usage.costUsd !== undefined && usage.costUsd <= MAX_USAGE_COST_USD) result.costUsd = usage.costUsd
  return Object.keys(result).length === 0 ? undefined : result
}

/** Milliseconds per unit, by the unit's first letters as providers write them. */
function unitMs (unit: string): number {
  const u = unit.toLowerCase()
  if (u === 'ms') return 1
  if (u.startsWith('h')) return 3_600_000
  if (u.startsWith('m')) return 60_000
  return 1000
}

/**
 * A wait the agent's text asks for, in the forms providers use: "Please try again in 6ms",
 * "Please retry in 17.6s", "try again in 2 minutes", a `retry-after` header value in seconds.
 * Undefined when the text names none.
 */
export function retryAfterFromText (message: string): number | undefined {
  const phrase = /(?:try again|retry) in\s+([\d.]+)\s*(ms|s|sec|seconds?|m|min|minutes?|h|hours?)\b/i.exec(message)
  if (phrase !== null) {
    const amount = Number(phrase[1])
    if (Number.isFinite(amount)) return Math.round(amount * unitMs(phrase[2]!))
  }
  const header = /retry-after"?\s*[:=]\s*"?([\d.]+)/i.exec(message)
  if (header !== null && Number.isFinite(Number(header[1]))) return Math.round(Number(header[1]) * 1000)
  return undefined
}
