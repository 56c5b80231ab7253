import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Home } from '../../../src/home/home.js'

let dir: string
let home: Home

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-config-'))
  home = Home.resolve(path.join(dir, 'home'))
  await home.init()
})

afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('config: hooks and notify', () => {
  it('reads hooks, every event when `on` is left out, and notify', async () => {
    await writeFile(home.configFile, JSON.stringify({ hooks: [{ run: 'echo all' }, { on: ['failed'], run: 'echo failed' }], notify: false }))
    const config = await home.loadConfig()
    expect(config.hooks).toEqual([{ on: ['returned', 'failed', 'conflicts'], run: 'echo all' }, { on: ['failed'], run: 'echo failed' }])
    expect(config.notify).toBe(false)
  })

  it('defaults to no hooks and notifications on', async () => {
    await writeFile(home.configFile, '{}')
    expect(await home.loadConfig()).toMatchObject({ hooks: [], notify: true })
  })

  it('names the key of an unknown event or an empty command', async () => {
    await writeFile(home.configFile, JSON.stringify({ hooks: [{ on: ['merged'], run: 'x' }] }))
    await expect(home.loadConfig()).rejects.toThrow(/hooks\.0\.on\.0/)
    await writeFile(home.configFile, JSON.stringify({ hooks: [{ run: '' }] }))
    await expect(home.loadConfig()).rejects.toThrow(/hooks\.0\.run/)
    await writeFile(home.configFile, JSON.stringify({ hooks: [{ run: 'x', when: 'always' }] }))
    await expect(home.loadConfig()).rejects.toThrow(/hooks\.0: Unrecognized key: "when"/)
  })
})
