export class HomeNotInitializedError extends Error {
  override readonly name = 'HomeNotInitializedError'
  constructor (readonly home: string) {
    super(`no gitmesh node at ${home}: run \`gitmesh init --home ${home}\` first`)
  }
}

export class InvalidConfigError extends Error {
  override readonly name = 'InvalidConfigError'
  constructor (readonly file: string, detail: string) {
    super(`${file}: ${detail}`)
  }
}

export class InvalidIdentityError extends Error {
  override readonly name = 'InvalidIdentityError'
  constructor (readonly file: string, detail: string) {
    super(`${file}: ${detail}`)
  }
}
