/**
 * Graceful SIGINT/SIGTERM. The CLI installs the handlers; a training loop that can checkpoint
 * registers while it runs (`whileCheckpointable`) and polls `interruptSignal()` between steps:
 * it then writes its checkpoint and throws `InterruptedError`. A signal while nothing can
 * checkpoint exits at once (every file apc writes is atomic, so that is as safe as a kill); a
 * second signal always does.
 */

/** A run stopped by a signal after saving what it could; the CLI exits with 128 + signal number. */
export class InterruptedError extends Error {
  constructor(message: string, readonly signal: NodeJS.Signals) {
    super(message);
    this.name = 'InterruptedError';
  }
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15 };

/** Conventional exit status of a process stopped by `signal` (130 for SIGINT, 143 for SIGTERM). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 1);
}

let received: NodeJS.Signals | undefined;
let checkpointable = 0;
let installed = false;

/** The signal received, once one has been (undefined before). */
export function interruptSignal(): NodeJS.Signals | undefined {
  return received;
}

/** Runs `f` as a section that honours a signal by checkpointing (nested sections count once each). */
export async function whileCheckpointable<T>(f: () => Promise<T>): Promise<T> {
  checkpointable++;
  try {
    return await f();
  } finally {
    checkpointable--;
  }
}

/** Installs the SIGINT/SIGTERM handlers (idempotent); the CLI calls it before running a command. */
export function installInterruptHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (received || checkpointable === 0) {
        process.stderr.write(`\napc: ${signal}: stopping now\n`);
        process.exit(signalExitCode(signal));
      }
      received = signal;
      process.stderr.write(`\napc: ${signal}: finishing the current step, then writing a checkpoint (send it again to stop at once)\n`);
    });
  }
}

/** Forgets a received signal (tests only). */
export function resetInterruptForTesting(signal?: NodeJS.Signals): void {
  received = signal;
}
