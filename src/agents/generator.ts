import type { AgentPreset, AgentUsage, GeneratorOutcome, GeneratorVerdict } from './preset.js'

/** What a builder runs for each attempt, and how it reads the outcome. */
export interface Generator {
  /** A shell command line. */
  command: string
  /** The preset's name, or undefined for a raw `--generate` command. */
  agent?: string
  judge: (outcome: GeneratorOutcome) => GeneratorVerdict
  usage: (output: string) => AgentUsage | undefined
}

/** A raw `--generate` command: its exit code alone decides, and it reports no usage. */
export function commandGenerator (command: string): Generator {
  return {
    command,
    judge: outcome => outcome.exitCode === 0 && !outcome.timedOut ? { kind: 'ok' } : { kind: 'failed' },
    usage: () => undefined
  }
}

export function presetGenerator (preset: AgentPreset): Generator {
  return { command: preset.command, agent: preset.name, judge: preset.judge, usage: preset.usage }
}
