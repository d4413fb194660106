// Test prerequisites: a missing one fails the run under CI=true; elsewhere (a developer
// without root, Docker or systemd) the suite is skipped with the reason printed.

/** prerequisite runs `check`; returns undefined when it passes, else the reason to skip (or throws under CI). */
export async function prerequisite(what: string, check: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await check()
    return undefined
  } catch (err) {
    const why = `${what}: ${(err as Error).message.split('\n')[0] ?? ''}`
    if (process.env.CI === 'true') throw new Error(why)
    return why
  }
}
