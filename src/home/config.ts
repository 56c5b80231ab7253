import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_LISTEN } from '../net/constants.js'
import { HOOK_EVENTS, MAX_HOOK_COMMAND_CHARS, MAX_HOOKS } from '../notify/constants.js'

/** A string that parses as a multiaddr. */
export const multiaddrText = z.string().refine(text => {
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}, 'not a valid multiaddr')

/** The node's config.json; docs/guide.md ("Config") describes every key. */
export const ConfigSchema = z.strictObject({
  /** Addresses to listen on when `daemon --listen` is not given. */
  listen: z.array(multiaddrText).default([DEFAULT_LISTEN]),
  /** Peers to dial at start, besides `daemon --peer`. */
  peers: z.array(multiaddrText).default([]),
  /** A command that names jobs: the prompt on stdin, a kebab-case name on stdout, within a second. */
  namer: z.string().min(1).optional(),
  /** Commands run when a job needs the user (docs/guide.md, "Knowing when to look"). */
  hooks: z.array(z.strictObject({
    on: z.array(z.enum(HOOK_EVENTS)).min(1).default([...HOOK_EVENTS]),
    run: z.string().min(1).max(MAX_HOOK_COMMAND_CHARS)
  })).max(MAX_HOOKS).default([]),
  /** Raise a desktop notification on the same events (`daemon --no-notify` turns it off too). */
  notify: z.boolean().default(true)
})
export type Config = z.infer<typeof ConfigSchema>
