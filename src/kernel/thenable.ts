/**
 * What kernel operations and pool tasks share to behave as promises without being ones: one
 * batched microtask for settled callbacks (those that settled queue themselves here, and a single
 * microtask runs every due `_fire()` in order: a `queueMicrotask` per settlement would cost Node an
 * AsyncResource each), and the lazy promise that a `then` returns.
 * @module
 */

/** Something with `then` callbacks to run once it has settled. */
export interface Firable {
  _fire(): void
}

const due: (Firable | undefined)[] = []
let scheduled = false

/** @internal queues `x._fire()` for the next batched run. */
export function scheduleFire(x: Firable): void {
  due.push(x)
  if (!scheduled) {
    scheduled = true
    queueMicrotask(runFires)
  }
}

function runFires(): void {
  // callbacks may settle more operations or tasks: they join this same run
  for (let i = 0; i < due.length; i++) {
    const x = due[i]!
    due[i] = undefined
    x._fire()
  }
  due.length = 0
  scheduled = false
}

/** Something whose `then` result can be made into a real promise on demand. */
export interface ChainSource {
  _chainPromise(): Promise<unknown>
}

/**
 * The promise `then` returns. `await` ignores it, so it stays an empty shell unless someone chains
 * on it; then it becomes a real promise of the callback's outcome.
 */
export class Chained<R> implements Promise<R> {
  readonly #source: ChainSource
  #promise: Promise<R> | undefined = undefined
  constructor(source: ChainSource) {
    this.#source = source
  }
  #real(): Promise<R> {
    return (this.#promise ??= this.#source._chainPromise() as Promise<R>)
  }
  then<R1 = R, R2 = never>(
    onfulfilled?: ((value: R) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#real().then(onfulfilled, onrejected)
  }
  catch<R2 = never>(onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R | R2> {
    return this.#real().catch(onrejected)
  }
  finally(onfinally?: (() => void) | null): Promise<R> {
    return this.#real().finally(onfinally)
  }
  get [Symbol.toStringTag](): string {
    return 'Promise'
  }
}
