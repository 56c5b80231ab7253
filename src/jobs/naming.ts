import { startChild } from '../process/child.js'
import { SHELL } from '../process/constants.js'
import { ownEnv } from '../process/environment.js'
import { MAX_NAME_CHARS, MAX_NAMER_OUTPUT_CHARS, NAME_WORDS, NAMER_TIMEOUT_MS } from './constants.js'

/** Words that say what kind of request it is rather than what it is about. */
const FILLER = new Set([
  'a', 'an', 'the', 'to', 'for', 'of', 'in', 'on', 'at', 'by', 'with', 'and', 'or', 'that', 'which', 'this', 'these', 'those',
  'it', 'its', 'is', 'are', 'be', 'so', 'as', 'from', 'into', 'please', 'can', 'could', 'would', 'you', 'we', 'i', 'me', 'my', 'our',
  'write', 'writes', 'add', 'adds', 'implement', 'implements', 'create', 'creates', 'make', 'makes', 'build', 'builds',
  'function', 'functions', 'method', 'methods', 'class', 'code', 'some', 'new', 'should', 'must', 'will', 'need', 'needs', 'want',
  'where', 'when', 'about', 'there', 'their', 'if', 'then', 'than', 'all', 'any', 'up', 'out'
])

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/

/**
 * A short readable kebab-case name from a prompt: its first few significant words
 * ("write a function to validate email addresses" → "validate-email-addresses"). Only the prose
 * before the first code block counts.
 */
export function deriveName (prompt: string): string {
  const prose = (prompt.split(/^(?:```|~~~)/m)[0] ?? prompt).replace(/['’]/g, '')
  const words = prose.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').match(/[a-z0-9]+/g) ?? []
  const significant = words.filter(word => !FILLER.has(word))
  const chosen = (significant.length > 0 ? significant : words).slice(0, NAME_WORDS)
  const name = trimName(chosen.join('-'))
  return name === '' ? 'job' : name
}

/** `text` as a job name: kebab-case ASCII, cut at a word boundary to fit; '' when nothing is left. */
export function kebabName (text: string): string {
  return trimName(text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, ''))
}

function trimName (name: string): string {
  if (name.length <= MAX_NAME_CHARS) return name
  return name.slice(0, MAX_NAME_CHARS).replace(/-[^-]*$/, '') || name.slice(0, MAX_NAME_CHARS)
}

/** True when `name` can be a job name: kebab-case, short. */
export function isValidName (name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_CHARS && KEBAB.test(name)
}

/** `base`, or `base-2`, `base-3`… whichever is not taken. */
export function uniqueName (base: string, taken: (name: string) => boolean): string {
  if (!taken(base)) return base
  for (let n = 2; ; n++) {
    const suffix = `-${n}`
    const candidate = `${base.slice(0, MAX_NAME_CHARS - suffix.length).replace(/-$/, '')}${suffix}`
    if (!taken(candidate)) return candidate
  }
}

/**
 * Asks the configured namer command (a small local model, say) for a name: the prompt goes to
 * its stdin and its first output line is the name. Anything else — failure, slowness past
 * NAMER_TIMEOUT_MS, a name that is not kebab-case — gives undefined, and the derived name is used.
 */
export async function askNamer (command: string, prompt: string, timeoutMs = NAMER_TIMEOUT_MS): Promise<string | undefined> {
  let running
  try {
    // The user's own command, from their config: their environment. A namer is asked for a name,
    // not for patience: at the timeout its group is killed at once.
    running = startChild({ file: SHELL, args: ['-c', command], env: ownEnv(), stdin: 'pipe', stderr: 'ignore', timeoutMs, killGraceMs: 0 })
  } catch {
    return undefined
  }
  const { child } = running
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    // Only the first line matters: a namer that floods its output cannot make us hold it.
    if (out.includes('\n') || out.length > MAX_NAMER_OUTPUT_CHARS) return
    out += chunk.toString('utf8')
  })
  child.stdin!.on('error', () => {})
  child.stdin!.end(prompt)
  try {
    const exit = await running.exit
    const name = out.split('\n')[0]?.trim().toLowerCase() ?? ''
    return exit.exitCode === 0 && !exit.timedOut && isValidName(name) ? name : undefined
  } catch {
    return undefined // it could not be started
  }
}
