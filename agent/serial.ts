// One job at a time, coalescing requests: a request while the job runs asks for one more
// run after it, however many requests came. The reconciler's passes and the pod file
// refresher run this way.

/** Serial runs `job` on request, never two at once; failures go to `onError`. */
export class Serial {
  private readonly job: () => Promise<void>
  private readonly onError: (err: unknown) => void
  private running = false
  private again = false

  constructor(job: () => Promise<void>, onError: (err: unknown) => void) {
    this.job = job
    this.onError = onError
  }

  /** request runs the job now, or once more after the run under way. Never blocks. */
  request(): void {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    void this.job()
      .catch(this.onError)
      .finally(() => {
        this.running = false
        if (this.again) {
          this.again = false
          this.request()
        }
      })
  }
}
