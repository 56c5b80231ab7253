import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    reporters: ['default', './test/plain-summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration and end-to-end tests spawn git and daemons; two cores are the budget.
    maxWorkers: 2,
    fileParallelism: true
  }
})
