type Listener<T> = (value: T) => void;

/** A minimal typed event emitter that runs in browsers and Node alike. */
export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Whether anything listens to `type`: lets a hot path skip building an event nobody reads. */
  protected listening(type: keyof Events): boolean {
    return (this.listeners.get(type)?.size ?? 0) > 0;
  }

  protected emit<K extends keyof Events>(type: K, value: Events[K]): void {
    const set = this.listeners.get(type);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as Listener<Events[K]>)(value);
      } catch (err) {
        // A listener's bug must not break the protocol loop; surface it asynchronously.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
