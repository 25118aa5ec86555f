type Listener<T> = (value: T) => void;

/**
 * A minimal typed event emitter that runs in browsers and Node alike. It sits on a device's hot path (an event
 * per rank frame and per rating sent), so each event's listeners are a plain array in a plain object: emitting
 * is a property read and a loop. Subscribing or unsubscribing replaces the array, so an emit in progress walks
 * the listeners it started with.
 */
export class TypedEmitter<Events extends object> {
  private readonly listeners: { [K in keyof Events]?: ReadonlyArray<Listener<Events[K]>> } = {};

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    const list = this.listeners[type] ?? [];
    // A function subscribed twice is called once (as with a Set, or the DOM's addEventListener).
    if (!list.includes(listener)) this.listeners[type] = [...list, listener];
    return () => {
      const remaining = (this.listeners[type] ?? []).filter((l) => l !== listener);
      // Set to undefined, never deleted: a delete turns the object into a hash table, a slower lookup per emit.
      this.listeners[type] = remaining.length > 0 ? remaining : undefined;
    };
  }

  /** Whether anything listens to `type`: lets a hot path skip building an event nobody reads. */
  protected listening(type: keyof Events): boolean {
    return this.listeners[type] !== undefined;
  }

  protected emit<K extends keyof Events>(type: K, value: Events[K]): void {
    const list = this.listeners[type];
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i](value);
      } catch (err) {
        // A listener's bug must not break the protocol loop; surface it asynchronously.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
