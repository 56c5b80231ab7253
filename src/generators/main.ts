#!/usr/bin/env node
// The built-in generator as a program of its own: a builder starts it for every attempt, so it
// loads only what it needs (not the whole `gitmesh` command line).
import { main } from './fenced-blocks.js'

process.exitCode = await main()
