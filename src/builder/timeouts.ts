import { DEFAULT_IDLE_TIMEOUT_MS } from '../jobs/constants.js'
import type { JobSpec } from '../jobs/messages.js'

/** A builder's own defaults (`daemon --generate-timeout`, `--idle-timeout`), for projects that set none. */
export interface BuilderTimeouts {
  generateMs?: number
  idleMs?: number
}

/**
 * The generator's bounds for a job. The project's gitmesh.json decides first (it knows its agent
 * and its tasks), then the builder's flags (its owner knows the machine and the agent installed
 * there), then the defaults: the spec's `generateTimeoutMs` (the author's default, 60 min) and
 * DEFAULT_IDLE_TIMEOUT_MS.
 */
export function generatorTimeouts (spec: Pick<JobSpec, 'generateTimeoutMs' | 'timeouts'>, builder: BuilderTimeouts = {}): { timeoutMs: number, idleTimeoutMs: number } {
  return {
    timeoutMs: spec.timeouts?.generate ?? builder.generateMs ?? spec.generateTimeoutMs,
    idleTimeoutMs: spec.timeouts?.idle ?? builder.idleMs ?? DEFAULT_IDLE_TIMEOUT_MS
  }
}
