/**
 * The launcher: command jobs started by small Perl processes instead of `child_process.spawn`.
 * Node forks its whole (large) address space for every spawn, which costs about three times what
 * `xargs` pays per command; a small helper forks cheaply. There is one helper per core, slot i served
 * by helper i mod cores, so that the slots' forks run in parallel. The helper also is the reaper: when the
 * boss's process dies (even by SIGKILL) its stdin closes and it kills every job still running.
 *
 * The helper blocks SIGINT/SIGTERM/SIGHUP (a Ctrl-C reaches its process group too: it must live on
 * while the boss drains); a job unblocks them just before exec, so a signal sent to a job that has
 * not exec'd yet is delivered, not lost. Each job runs in its own process group (`setpgid`), stdin
 * from /dev/null, stdout and stderr spooled to a pair of files of its slot (truncated per job: the
 * helper reads their tails when it reaps the job, before the slot's next one starts), in `cwd`, with
 * the extra `env`. Used when `perl` is on the PATH (it is in every Debian/Ubuntu base image); the
 * spawn-based runner is the fallback.
 *
 * Each slot runs one job at a time in the helper: a job sent for a busy slot waits in the helper's
 * queue for that slot and starts the moment the slot's job before it is reaped, without a round trip
 * to the boss (the boss pipelines short commands so; see Boss).
 *
 * Wire format, one line each way, fields separated by spaces, strings hex-encoded (`-` for empty):
 * - to the helper: `R <id> <slot> <cwd> <out> <err> <nenv> <K=V>… <argv>…` run a job (or queue it
 *   behind the slot's running job); `D <id>` drop a queued job that has not started; `q` quit.
 * - from it: `S <id> <pid> <ms>` started; `E <id> <status> <ms> <out> <err>` ended (the raw wait
 *   status; -1: fork failed; -2: dropped before it started; then the last `tailBytes` of its stdout
 *   and stderr); `<ms>` is the time, in ms since the epoch.
 * The helper writes what it has to say in batches: at once when a slot's job starts or ends with
 * the slot's queue down to half of what it held at the last report (or empty), when a dropped job
 * is answered, and otherwise within 50 ms. So the boss wakes once for several short commands, and
 * tops up a slot's queue in one write.
 * A child that cannot exec writes `taskos: cannot run …` to its stderr file and exits 255.
 * @module
 */
import type { ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { CancelledError, TaskosError, WorkerCrashedError } from '../kernel/index.js'
import { childProcess } from '../pool/builtins.js'
import type { CommandTemplate } from './command.js'
import { expandCommand } from './command.js'
import type { JobSpec } from './instructions.js'
import type { JobInfo, RunEnd, RunHandle, Runner } from './runners.js'

const SCRIPT = String.raw`
use strict; use POSIX (); use IO::Select; use Time::HiRes (); use Fcntl ();
$| = 1;
my $stop = POSIX::SigSet->new(POSIX::SIGINT(), POSIX::SIGTERM(), POSIX::SIGHUP());
POSIX::sigprocmask(POSIX::SIG_BLOCK(), $stop);
# a child's end wakes the loop through a pipe (the self-pipe trick): a SIGCHLD that comes while the
# loop is busy is not lost until the next input (pipes above fd 2 are close-on-exec in Perl)
pipe(my $wake_r, my $wake_w) or die "pipe: $!";
for ($wake_r, $wake_w) { fcntl($_, Fcntl::F_SETFL(), Fcntl::O_NONBLOCK()) }
$SIG{CHLD} = sub { syswrite($wake_w, 'c') };
my (%kids, %slotof, %busy, %queue, %files, %hi); my $buf = ''; my $w = '';
# what the boss is told waits while the slots' queues are deep enough (at most HOLD seconds): it hears
# of several ends and starts in one read, and tops the queues up in one write
my $HOLD = 0.050; my $since; my $urgent = 0; my $TAIL = $ARGV[0] // 4096;
my $sel = IO::Select->new(\*STDIN, $wake_r);
sub dec { my $h = shift; return $h eq '-' ? '' : pack('H*', $h) }
sub now { sprintf('%.3f', Time::HiRes::time() * 1000) }
sub report { $since //= Time::HiRes::time(); $w .= shift }
sub queued { my $q = $queue{shift()}; return $q ? scalar @$q : 0 }
# the boss must hear now when a slot's queue is down to half of what it was at the last report
sub check { my $slot = shift; my $n = queued($slot); $urgent = 1 if $n <= int(($hi{$slot} // 0) / 2) }
sub bye { kill 'KILL', -$_ for keys %kids; exit 0 }
sub flush_out {
  while (length $w) { my $n = syswrite(STDOUT, $w); if (!defined $n) { next if $!{EINTR}; bye() } substr($w, 0, $n) = '' }
  undef $since; $urgent = 0; $hi{$_} = queued($_) for keys %hi;
}
sub flush { flush_out() if length $w && ($urgent || Time::HiRes::time() - $since >= $HOLD) }
sub start {
  my ($slot, $id, $cwd, $out, $err, $env, $argv) = @_;
  my $t = now();
  my $pid = fork;
  if (!defined $pid) { report("E $id -1 $t - -\n"); $urgent = 1; return 0 }
  if ($pid == 0) {
    POSIX::setpgid(0, 0);
    $SIG{CHLD} = 'DEFAULT'; $SIG{PIPE} = 'DEFAULT';
    POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $stop);
    open(STDIN, '<', '/dev/null'); open(STDOUT, '>', $out); open(STDERR, '>', $err);
    if ($cwd ne '' && !chdir($cwd)) { print STDERR "taskos: cannot run: chdir $cwd: $!\n"; POSIX::_exit(255) }
    for (@$env) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v }
    { no warnings; exec { $argv->[0] } @$argv; }
    print STDERR "taskos: cannot run $argv->[0]: $!\n"; POSIX::_exit(255);
  }
  POSIX::setpgid($pid, $pid);
  $kids{$pid} = $id; $slotof{$pid} = $slot; $files{$pid} = [$out, $err]; $busy{$slot} = 1;
  report("S $id $pid $t\n");
  return 1;
}
sub next_of { my $slot = shift; my $q = $queue{$slot} or return; while (@$q) { return if start($slot, @{ shift @$q }) } }
# the last TAIL bytes of an output file, hex-encoded ('-' when empty)
sub tail {
  my $f = shift; my $n = -s $f; return '-' unless $n && $TAIL > 0;
  my $k = $n < $TAIL ? $n : $TAIL; my $b = '';
  open(my $h, '<', $f) or return '-'; seek($h, $n - $k, 0); read($h, $b, $k); close($h);
  return length $b ? unpack('H*', $b) : '-';
}
sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $t = now(); my $st = $?;
    my $id = delete $kids{$pid}; my $slot = delete $slotof{$pid}; my $f = delete $files{$pid};
    next unless defined $id;
    delete $busy{$slot};
    # the tails are read before the slot's next job truncates its files
    my $end = "E $id $st $t " . tail($f->[0]) . ' ' . tail($f->[1]) . "\n";
    next_of($slot);
    report($end);
    check($slot);
  }
}
sub run {
  my @f = split / /, shift; my $op = shift @f;
  exit 0 if $op eq 'q';
  if ($op eq 'D') {
    my $id = $f[0];
    for my $q (values %queue) { for my $i (0 .. $#$q) { if ($q->[$i][0] eq $id) { splice(@$q, $i, 1); report("E $id -2 " . now() . " - -\n"); $urgent = 1; return } } }
    $urgent = 1 if length $w; # the boss is stopping a job that has started meanwhile: it needs its pid
    return;
  }
  return unless $op eq 'R';
  my ($id, $slot, $cwd, $out, $err, $nenv, @rest) = @f;
  my @env = map { dec($_) } splice(@rest, 0, $nenv);
  my @argv = map { dec($_) } @rest;
  my @job = ($id, dec($cwd), dec($out), dec($err), \@env, \@argv);
  if ($busy{$slot}) {
    push @{ $queue{$slot} }, \@job;
    my $n = queued($slot); $hi{$slot} = $n if $n > ($hi{$slot} // 0);
  } else { start($slot, @job) || next_of($slot); $urgent = 1 }
}
$SIG{PIPE} = 'IGNORE'; # a write to a boss that is gone fails (bye: its jobs are killed)
while (1) {
  reap(); flush();
  my $wait = length $w ? $since + $HOLD - Time::HiRes::time() : 0.2;
  my @r = $sel->can_read($wait > 0 ? $wait : 0);
  my $input = grep { $_ != $wake_r } @r;
  sysread($wake_r, my $junk, 4096) if @r > $input;
  reap(); flush();
  next unless $input;
  my $n = sysread(STDIN, $buf, 65536, length $buf);
  if (!defined $n) { next if $!{EINTR}; last }
  last if $n == 0;
  while ($buf =~ s/^([^\n]*)\n//) { run($1) }
  flush();
}
bye();
`

const hex = (s: string): string => (s === '' ? '-' : Buffer.from(s, 'utf8').toString('hex'))
const unhex = (h: string): string => (h === '-' ? '' : Buffer.from(h, 'hex').toString('utf8'))

/**
 * The most commands the boss hands one slot at once beyond its running one (the launcher's queue
 * for the slot; see Boss).
 */
export const MAX_QUEUED = 64

const SIGNALS = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]))

interface Pending {
  readonly job: JobSpec
  readonly file: string
  /** The helper process that runs it. */
  readonly helper: Helper
  pid: number | undefined
  startedAt: number | undefined
  cancelled: unknown
  killTimer: NodeJS.Timeout | undefined
  resolve(end: RunEnd): void
}

function kill(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // gone already
  }
}

type HelperProcess = ChildProcessByStdio<Writable, Readable, null>

/**
 * One Perl helper process: the lines to it, written together once per turn, and the lines from it.
 * A runner has one per core (its lanes): a fork is work of the forking process, so slots served by
 * different helpers fork in parallel, as the parallel jobs of `xargs -P` do not need to.
 */
class Helper {
  readonly #perl: string
  readonly #tailBytes: number
  readonly #onLine: (line: string) => void
  readonly #onExit: (helper: Helper, code: number | null, signal: NodeJS.Signals | null) => void
  child: HelperProcess | undefined
  #buf = ''
  #out = ''

  constructor(
    perl: string,
    tailBytes: number,
    onLine: (line: string) => void,
    onExit: (helper: Helper, code: number | null, signal: NodeJS.Signals | null) => void,
  ) {
    this.#perl = perl
    this.#tailBytes = tailBytes
    this.#onLine = onLine
    this.#onExit = onExit
  }

  /** The running process, started when there is none. */
  process(): HelperProcess {
    if (this.child !== undefined) return this.child
    const child = childProcess().spawn(this.#perl, ['-e', SCRIPT, String(this.#tailBytes)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      this.#buf += chunk
      let nl: number
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl)
        this.#buf = this.#buf.slice(nl + 1)
        this.#onLine(line)
      }
    })
    child.stdin.on('error', () => undefined)
    child.on('error', () => undefined)
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined
      this.#onExit(this, code, signal)
    })
    this.child = child
    return child
  }

  send(line: string): void {
    const child = this.process()
    if (this.#out === '')
      queueMicrotask(() => {
        const text = this.#out
        this.#out = ''
        child.stdin.write(text)
      })
    this.#out += line
  }

  ref(on: boolean): void {
    const c = this.child
    if (c === undefined) return
    if (on) {
      c.ref()
      ;(c.stdout as unknown as { ref(): void }).ref()
    } else {
      c.unref()
      ;(c.stdout as unknown as { unref(): void }).unref()
      ;(c.stdin as unknown as { unref(): void }).unref()
    }
  }

  /** Ends the process (its stdin closes: it kills what still runs) and waits for its exit. */
  shutdown(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null) return Promise.resolve()
    child.ref()
    return new Promise((resolve) => {
      child.once('exit', () => resolve())
      child.stdin.end()
    })
  }
}

/** @internal command jobs through the Perl launcher: slot i is served by helper i mod cores. */
export class LauncherRunner implements Runner {
  readonly #template: CommandTemplate
  readonly #grace: number
  readonly #bind: number | undefined
  readonly #helpers: Helper[]
  #dir: string | undefined
  #seq = 0
  readonly #jobs = new Map<number, Pending>()
  /** Per slot, its output files (hex-encoded, as sent to the helper), made when first used. */
  readonly #spools: string[] = []
  /** The last argument vector sent, hex-encoded (commands often repeat words). */
  #lastArgs: readonly string[] = []
  #lastWire: string[] = []

  constructor(
    perl: string,
    template: CommandTemplate,
    tailBytes: number,
    grace: number,
    bindCpus: number | undefined,
  ) {
    this.#template = template
    this.#grace = grace
    this.#bind = bindCpus
    const onLine = (line: string): void => this.#onLine(line)
    const onExit = (helper: Helper, code: number | null, signal: NodeJS.Signals | null): void =>
      this.#onExit(helper, code, signal)
    this.#helpers = Array.from(
      { length: availableParallelism() },
      () => new Helper(perl, tailBytes, onLine, onExit),
    )
    // the first is started now, with the boss: it is ready by the time the first job comes
    this.#helpers[0]!.process()
    this.#ref(false)
  }

  /** A helper died under its jobs (it never should): they are lost, and the reason says so. */
  #onExit(helper: Helper, code: number | null, signal: NodeJS.Signals | null): void {
    for (const [id, p] of this.#jobs) {
      if (p.helper !== helper) continue
      this.#jobs.delete(id)
      p.resolve({
        status: 'crashed',
        error: new WorkerCrashedError(
          `the command launcher exited (${signal ?? String(code)}) while job ${JSON.stringify(p.job.name)} ran`,
          {
            ...(code === null ? {} : { exitCode: code }),
            ...(signal === null ? {} : { signal }),
          },
        ),
      })
    }
  }

  #ref(on: boolean): void {
    for (const h of this.#helpers) h.ref(on)
  }

  #onLine(line: string): void {
    const [op, idText, value, ms, out, err] = line.split(' ')
    const id = Number(idText)
    const p = this.#jobs.get(id)
    if (p === undefined) return
    if (op === 'S') {
      p.pid = Number(value)
      p.startedAt = Number(ms)
      if (p.cancelled !== undefined) this.#kill(p)
    } else if (op === 'E') {
      this.#jobs.delete(id)
      if (this.#jobs.size === 0) this.#ref(false)
      if (p.killTimer !== undefined) clearTimeout(p.killTimer)
      const status = Number(value)
      const end = this.#end(p, status, out ?? '-', err ?? '-')
      if (status !== -2 && p.startedAt !== undefined) {
        end.startedAt = p.startedAt
        end.endedAt = Number(ms)
      }
      p.resolve(end)
    }
  }

  #end(p: Pending, status: number, out: string, err: string): RunEnd {
    if (status === -2)
      return {
        status: 'cancelled',
        notStarted: true,
        error: new CancelledError(`job ${JSON.stringify(p.job.name)} never started: the batch was stopped`, {
          cause: p.cancelled,
        }),
      }
    if (status === -1)
      return {
        status: 'failed',
        error: new TaskosError('ERR_TASK_FAILED', `cannot fork for job ${JSON.stringify(p.job.name)}`),
      }
    const tails = {
      stdout: unhex(out),
      stderr: unhex(err),
    }
    const code = status >> 8
    const signo = status & 0x7f
    const signal = signo === 0 ? undefined : (SIGNALS.get(signo) ?? `signal ${signo}`)
    if (p.cancelled !== undefined)
      return {
        status: 'cancelled',
        error: new CancelledError(`job ${JSON.stringify(p.job.name)} was stopped`, { cause: p.cancelled }),
        ...(signal === undefined ? { exitCode: code } : { signal }),
        ...tails,
      }
    if (signal !== undefined)
      return {
        status: 'crashed',
        error: new WorkerCrashedError(`command ${JSON.stringify(p.file)} was killed by ${signal}`, {
          signal,
        }),
        signal,
        ...tails,
      }
    if (code === 255 && tails.stderr.startsWith('taskos: cannot run'))
      return {
        status: 'failed',
        error: Object.assign(
          new TaskosError('ERR_TASK_FAILED', tails.stderr.trim().replace(/^taskos: /, '')),
          { unrecoverable: true },
        ),
        exitCode: code,
        ...tails,
      }
    if (code !== 0) {
      const last = tails.stderr.trimEnd().split('\n').pop() ?? ''
      return {
        status: 'failed',
        error: new TaskosError(
          'ERR_TASK_FAILED',
          `command ${JSON.stringify(p.file)} exited with code ${code}${last === '' ? '' : `: ${last.slice(-200)}`}`,
        ),
        exitCode: code,
        ...tails,
      }
    }
    return { status: 'done', exitCode: 0, ...tails }
  }

  #kill(p: Pending): void {
    if (p.pid === undefined) return
    kill(p.pid, 'SIGTERM')
    const pid = p.pid
    p.killTimer = setTimeout(() => kill(pid, 'SIGKILL'), this.#grace)
  }

  #spool(slot: number): string {
    let spool = this.#spools[slot]
    if (spool === undefined) {
      this.#dir ??= mkdtempSync(join(tmpdir(), 'taskos-batch-'))
      const base = join(this.#dir, String(slot))
      spool = `${hex(`${base}.out`)} ${hex(`${base}.err`)}`
      this.#spools[slot] = spool
    }
    return spool
  }

  /** `words` hex-encoded, space-separated (words equal to the last call's at the same place are reused). */
  #wire(words: readonly string[]): string {
    const last = this.#lastArgs
    const wire = this.#lastWire
    for (let i = 0; i < words.length; i++) if (words[i] !== last[i]) wire[i] = hex(words[i]!)
    wire.length = words.length
    this.#lastArgs = words
    return wire.join(' ')
  }

  start(job: JobSpec, info: JobInfo): RunHandle {
    const line = expandCommand(this.#template, job.instructions, job.name)
    let argv = [line.file, ...line.args]
    if (this.#bind !== undefined) argv = ['taskset', '-c', String(info.slot % this.#bind), ...argv]
    const spool = this.#spool(info.slot)
    const env = line.env === undefined ? [] : Object.entries(line.env).map(([k, v]) => `${k}=${v}`)
    const id = ++this.#seq
    let resolve!: (end: RunEnd) => void
    const end = new Promise<RunEnd>((r) => (resolve = r))
    const helper = this.#helpers[info.slot % this.#helpers.length]!
    const p: Pending = {
      job,
      file: line.file,
      helper,
      pid: undefined,
      startedAt: undefined,
      cancelled: undefined,
      killTimer: undefined,
      resolve,
    }
    this.#jobs.set(id, p)
    if (this.#jobs.size === 1) this.#ref(true)
    helper.send(
      `R ${id} ${info.slot} ${hex(line.cwd ?? '')} ${spool} ${env.length} ${this.#wire(env.length === 0 ? argv : [...env, ...argv])}\n`,
    )
    return {
      end,
      pid: () => p.pid,
      cancel: (reason) => {
        if (p.cancelled !== undefined || !this.#jobs.has(id)) return
        p.cancelled = reason ?? true
        // not started yet (queued for its slot): dropped; started meanwhile: killed once 'S' comes
        if (p.pid === undefined && helper.child !== undefined) helper.send(`D ${id}\n`)
        else this.#kill(p)
      },
      drop: () => {
        if (p.pid === undefined && this.#jobs.has(id) && helper.child !== undefined) helper.send(`D ${id}\n`)
      },
    }
  }

  async #shutdown(): Promise<void> {
    const dir = this.#dir
    this.#dir = undefined
    this.#spools.length = 0
    await Promise.all(this.#helpers.map((h) => h.shutdown()))
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }

  close(): Promise<void> {
    return this.#shutdown()
  }

  destroy(): Promise<void> {
    return this.#shutdown()
  }
}
