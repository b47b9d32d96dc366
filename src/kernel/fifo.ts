/**
 * A first-in first-out queue over an array with a moving head: O(1) push and shift at any size
 * (Array#shift is O(n) once an array is large), plus removal of a matched element for filtered
 * receives.
 * @module
 */
export class Fifo<T> {
  #items: (T | undefined)[] = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    const items = this.#items
    if (this.#head >= items.length) return undefined
    const item = items[this.#head]
    items[this.#head++] = undefined
    if (this.#head === items.length) {
      items.length = 0
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      items.splice(0, this.#head)
      this.#head = 0
    }
    return item
  }

  /** Index (from the oldest, 0-based) of the first item `match` accepts, or -1. */
  findIndex(match: (item: T) => boolean): number {
    const items = this.#items
    for (let i = this.#head; i < items.length; i++) if (match(items[i] as T)) return i - this.#head
    return -1
  }

  /** Removes and returns the item at `index` (from the oldest). */
  removeAt(index: number): T {
    if (index === 0) return this.shift() as T
    return this.#items.splice(this.#head + index, 1)[0] as T
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T
  }
}
