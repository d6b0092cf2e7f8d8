/** `apc worker`: flags → startQueueWorker; runs until interrupted. */
import { type Command, InvalidArgumentError } from 'commander';
import { InterruptedError, whileCheckpointable } from '../engine/interrupt.js';
import { startQueueWorker } from '../sweep/queue_worker.js';

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be an integer ≥ 1, got '${v}'`);
    return n;
  };
}

export function registerWorkerCommand(program: Command): void {
  program.command('worker')
    .description('run `apc sweep --queue` jobs from BullMQ on this machine, each as an apc child process, until interrupted')
    .requiredOption('--queue <url>', 'Redis URL of the sweep queue, e.g. redis://10.0.0.5:6380')
    .option('--concurrency <n>', 'jobs at once (each one process on one wasm thread)', positiveInt('--concurrency'), 1)
    .option('--store <dir>', 'this machine\'s path of the sweep directory (when the shared volume is mounted elsewhere)')
    .option('--lock-seconds <n>', 'job lock lifetime: a dead worker\'s job is picked up again after at most about this long', positiveInt('--lock-seconds'), 30)
    .action(async (f: { queue: string; concurrency: number; store?: string; lockSeconds: number }) => {
      const { close } = await startQueueWorker({ url: f.queue, concurrency: f.concurrency, store: f.store, backend: program.opts().backend, lockSeconds: f.lockSeconds });
      // a section that honours a signal: the CLI's handler then waits (a second signal stops at once)
      // while close() asks the running stages to checkpoint and waits for them
      const signal = await whileCheckpointable(() => new Promise<NodeJS.Signals>((resolve) => {
        const stop = (sig: NodeJS.Signals) => { void close().then(() => resolve(sig)); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }));
      throw new InterruptedError('worker stopped; its running stages wrote their checkpoints and went back to the queue', signal);
    });
}
