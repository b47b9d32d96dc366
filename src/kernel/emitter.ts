/**
 * A small typed event emitter over a `{ type }` union: `on('x', e => …)` gets the member whose
 * `type` is 'x'. A listener that throws does not stop the others; its error is reported through
 * `queueMicrotask` (so it surfaces as an uncaught exception rather than vanishing).
 * @module
 */

/** Any event: a plain object with a string `type`. */
export interface TypedEvent {
  readonly type: string
}

/** The listener for events of type `K`. */
export type Listener<E extends TypedEvent, K extends E['type']> = (event: Extract<E, { type: K }>) => void

export class Emitter<E extends TypedEvent> {
  #listeners = new Map<string, Set<(event: E) => void>>()

  /** Adds a listener; returns a function that removes it. */
  on<K extends E['type']>(type: K, listener: Listener<E, K>): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) this.#listeners.set(type, (set = new Set()))
    set.add(listener as (event: E) => void)
    return () => this.off(type, listener)
  }

  /** Removes a listener added with `on`. */
  off<K extends E['type']>(type: K, listener: Listener<E, K>): void {
    const set = this.#listeners.get(type)
    if (set === undefined) return
    set.delete(listener as (event: E) => void)
    if (set.size === 0) this.#listeners.delete(type)
  }

  /** Whether anyone listens to `type` (so callers can skip building events nobody reads). */
  listening(type: E['type']): boolean {
    return this.#listeners.has(type)
  }

  /** Calls every listener of `event.type`; returns whether there was one. */
  emit(event: E): boolean {
    const set = this.#listeners.get(event.type)
    if (set === undefined) return false
    for (const listener of [...set]) {
      try {
        listener(event)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
    return true
  }
}
