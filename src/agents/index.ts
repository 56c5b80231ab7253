/**
 * Agent presets: what gitmesh knows about each coding agent it can run as a builder's generator
 * (`gitmesh daemon --builder --agent NAME`). docs/generators.md gives each preset's command line.
 *
 * @example
 * const generator = presetGenerator(agentPreset('claude'))
 * const verdict = generator.judge({ exitCode: 1, timedOut: false, output })
 */
import { aider } from './aider.js'
import { claude } from './claude.js'
import { codex } from './codex.js'
import { gemini } from './gemini.js'
import { opencode } from './opencode.js'
import type { AgentPreset } from './preset.js'

export type { AgentPreset, AgentUsage, GeneratorOutcome, GeneratorVerdict } from './preset.js'
export { commandGenerator, presetGenerator, type Generator } from './generator.js'

export const AGENT_PRESETS: readonly AgentPreset[] = [claude, codex, aider, gemini, opencode]
export const AGENT_NAMES: readonly string[] = AGENT_PRESETS.map(p => p.name)

/** `--agent NAME` names no preset. */
export class UnknownAgentError extends Error {
  override readonly name = 'UnknownAgentError'
  constructor (readonly agent: string) {
    super(`unknown agent ${JSON.stringify(agent)}: the presets are ${AGENT_NAMES.join(', ')} (or give any command with --generate)`)
  }
}

export function agentPreset (name: string): AgentPreset {
  const preset = AGENT_PRESETS.find(p => p.name === name)
  if (preset === undefined) throw new UnknownAgentError(name)
  return preset
}
