type Listener<T> = (value: T) => void;
/** An event's listeners: the function itself while it is the only one (most events of a device), else an array. */
type Listeners<T> = Listener<T> | ReadonlyArray<Listener<T>>;

const asList = <T>(listeners: Listeners<T> | undefined): ReadonlyArray<Listener<T>> =>
  listeners === undefined ? [] : typeof listeners === 'function' ? [listeners] : listeners;

/**
 * A minimal typed event emitter that runs in browsers and Node alike. It sits on a device's hot path (an event
 * per rank frame and per rating sent), so each event's listeners live in a plain object: the lone listener of an
 * event as itself, several as an array, and emitting is a property read and a call or a loop. A load generator
 * holds thousands of devices, each with a dozen events: an array per event was memory each frame had to reach.
 * Subscribing or unsubscribing replaces the entry, so an emit in progress calls the listeners it started with.
 */
export class TypedEmitter<Events extends object> {
  /**
   * Every event's listeners. A subclass's hot path names its event here, `this.fire(this.handlers.rank, frame)`:
   * a read of a property known at that line, where `emit(type)` reads one by key, and a class emitting a dozen
   * events makes that read a megamorphic lookup on every emit (issue 15).
   */
  protected readonly handlers: { [K in keyof Events]?: Listeners<Events[K]> } = {};

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    const list = asList(this.handlers[type]);
    // A function subscribed twice is called once (as with a Set, or the DOM's addEventListener).
    if (!list.includes(listener)) this.handlers[type] = list.length === 0 ? listener : [...list, listener];
    return () => {
      const remaining = asList(this.handlers[type]).filter((l) => l !== listener);
      // Set to undefined, never deleted: a delete turns the object into a hash table, a slower lookup per emit.
      this.handlers[type] =
        remaining.length === 0 ? undefined : remaining.length === 1 ? remaining[0] : remaining;
    };
  }

  protected emit<K extends keyof Events>(type: K, value: Events[K]): void {
    this.fire(this.handlers[type], value);
  }

  /** Calls an event's listeners (`undefined`: none) with `value`. */
  protected fire<T>(listeners: Listeners<T> | undefined, value: T): void {
    if (listeners === undefined) return;
    if (typeof listeners === 'function') return call(listeners, value);
    for (let i = 0; i < listeners.length; i++) call(listeners[i], value);
  }
}

function call<T>(listener: Listener<T>, value: T): void {
  try {
    listener(value);
  } catch (err) {
    // A listener's bug must not break the protocol loop; surface it asynchronously.
    queueMicrotask(() => {
      throw err;
    });
  }
}
