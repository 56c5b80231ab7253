import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_LISTEN } from '../net/constants.js'

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
  namer: z.string().min(1).optional()
})
export type Config = z.infer<typeof ConfigSchema>
