/**
 * Preloaded (`node --import`) into every apc child of a sweep or worker: when the parent dies —
 * even by SIGKILL, which leaves it no chance to kill its children — the IPC channel closes and the
 * child ends too, instead of training on as an orphan whose job the queue hands to someone else.
 */
if (process.channel) {
  process.channel.unref(); // the channel alone must not keep a finished child alive
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}
export {};
