/** The secrets file cannot be used: its mode, owner or a line is wrong. The message never holds a value. */
export class SecretsFileError extends Error {
  override readonly name = 'SecretsFileError'
  constructor (readonly file: string, detail: string) {
    super(`${file}: ${detail}`)
  }
}

/** `--pass-env`, `--path` or the config's `builder` section names something a job command cannot be given. */
export class InvalidCommandEnvironmentError extends Error {
  override readonly name = 'InvalidCommandEnvironmentError'
}
