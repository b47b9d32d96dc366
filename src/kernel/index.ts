/**
 * taskos kernel: light tasks (generator or async bodies) with mailboxes, structured concurrency,
 * cancellation, monitors, supervision, hot swap, channels, locks and friends, names, timers on a
 * pluggable clock, and dispatch to an executor. No I/O of its own.
 *
 * Invariants:
 * - A task's children end before it does; its result waits for them.
 * - A child that fails and is never joined (or settled, or collected by joinAny) fails its parent.
 * - Cancelling a task cancels its children; every pending and later kernel wait of a cancelled task
 *   rejects with its cancellation error.
 * - A spawned task runs at once, until its first wait, before `spawn` returns.
 * - `t.yield()` puts the task behind every task that is ready now.
 * - Every timeout goes through the kernel's clock.
 * @module
 */
export { Kernel, defaultKernel } from './kernel.js'
export type {
  Executor,
  ExecutorRunOptions,
  KernelOptions,
  KernelEvent,
  KernelStats,
  Addressable,
} from './kernel.js'
export { KernelTask } from './context.js'
export type { Part } from './task.js'
export type { TaskContext, SpawnOptions, ReceiveOptions, JoinAnyOptions, OffloadOptions } from './context.js'
export { Operation } from './operation.js'
export { realClock, VirtualClock } from './clock.js'
export type { Clock, TimerHandle, VirtualClockOptions } from './clock.js'
export { job } from './dispatch.js'
export type { Job, DispatchOptions, DispatchResult, DispatchCollector } from './dispatch.js'
export type { SupervisedChild, SuperviseOptions, SuperviseStrategy, RestartPolicy } from './supervise.js'
export type {
  TaskStatus,
  Outcome,
  TaskFn,
  ArgsOf,
  ResultOf,
  BodyResult,
  CallArgs,
  Task,
  ExitNotice,
  JoinAnyResult,
} from './types.js'
export {
  TaskosError,
  TimeoutError,
  CancelledError,
  TaskFailedError,
  WorkerCrashedError,
  HostLostError,
  SerializationError,
} from './errors.js'
export type { ErrorCode, ErrorOrigin, TaskosErrorOptions } from './errors.js'
export { Emitter } from './emitter.js'
export type { TypedEvent, Listener } from './emitter.js'
export { Channel } from './channel.js'
export type { ChannelOptions, ChannelStats, DeliverOptions, Subscriber } from './channel.js'
export { Lock } from './lock.js'
export type { LockStats } from './lock.js'
export { Semaphore } from './semaphore.js'
export type { SemaphoreOptions, SemaphoreStats } from './semaphore.js'
export { Event } from './event.js'
export type { EventStats } from './event.js'
export { Condition } from './condition.js'
export type { ConditionStats } from './condition.js'
export { Barrier } from './barrier.js'
export type { BarrierStats } from './barrier.js'
export type { WaitOptions, SyncOptions } from './sync.js'
