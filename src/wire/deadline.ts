/**
 * A deadline held by a timer of our own. `AbortSignal.timeout()` keeps its timer only as long as
 * something holds the signal, and a signal reachable only through `AbortSignal.any()` may be
 * collected before it fires (seen on Node 20 after a flood: requests stayed open past their
 * limit). Here the timer holds the controller until it fires or `clear()` runs, so the deadline
 * always fires; callers clear it in `finally`.
 */
export class Deadline {
  private readonly controller = new AbortController()
  private readonly timer: ReturnType<typeof setTimeout>
  private readonly parent?: AbortSignal
  private readonly onParentAbort = (): void => { this.controller.abort(this.parent?.reason) }

  /** Fires `ms` from now with a `TimeoutError`, or earlier when `parent` aborts (with its reason). */
  constructor (ms: number, parent?: AbortSignal) {
    this.timer = setTimeout(() => {
      this.controller.abort(new DOMException(`the deadline of ${ms} ms passed`, 'TimeoutError'))
    }, ms)
    // A deadline must not keep a stopping daemon alive.
    this.timer.unref?.()
    this.parent = parent
    if (parent !== undefined) {
      if (parent.aborted) this.onParentAbort()
      else parent.addEventListener('abort', this.onParentAbort, { once: true })
    }
  }

  get signal (): AbortSignal {
    return this.controller.signal
  }

  /** Stops the timer and lets go of the parent; the signal stays as it is. */
  clear (): void {
    clearTimeout(this.timer)
    this.parent?.removeEventListener('abort', this.onParentAbort)
  }
}

/** Runs `fn` with a deadline's signal and clears the deadline when it settles. */
export async function withDeadline<T> (ms: number, parent: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new Deadline(ms, parent)
  try {
    return await fn(deadline.signal)
  } finally {
    deadline.clear()
  }
}
