// Typed events for agent components: a component declares the events it emits as a map
// from a noun:verb name to the detail it carries (`TypedEvents<{ 'store:change': Envelope }>`),
// and listeners get that detail typed. Built on EventTarget, so listeners run in the order
// they were added, synchronously inside emit, and a listener that throws does not stop
// the others or the emitter (Node reports the error as uncaught).

/** TypedEvents dispatches the events named in E, each with the detail type E gives it. */
export class TypedEvents<E extends Record<string, unknown>> {
  private readonly target = new EventTarget()

  /**
   * on calls fn with the detail of every `type` event from now on and returns a function
   * that removes it. Listeners run inside emit: they must not block.
   */
  on<K extends keyof E & string>(type: K, fn: (detail: E[K]) => void): () => void {
    const listener = (evt: Event): void => fn((evt as CustomEvent<E[K]>).detail)
    this.target.addEventListener(type, listener)
    return () => this.target.removeEventListener(type, listener)
  }

  /** emit delivers `detail` to every listener of `type`, in the order they were added. */
  protected emit<K extends keyof E & string>(type: K, detail: E[K]): void {
    this.target.dispatchEvent(new CustomEvent(type, { detail }))
  }
}
