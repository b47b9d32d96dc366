/**
 * One batched microtask for settled-callbacks: operations (kernel) and pool tasks that settled
 * queue themselves here, and a single microtask runs every due `_fire()` in order (a
 * `queueMicrotask` per settlement would cost Node an AsyncResource each).
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
