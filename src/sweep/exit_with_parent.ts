/**
 * Preloaded (`node --import`) into every apc child of a sweep or worker: when the parent dies —
 * even by SIGKILL, which leaves it no chance to kill its children — the child ends too, instead of
 * training on as an orphan whose job the queue hands to another worker. The check runs on its own
 * thread: a training step can hold the child's main event loop for seconds.
 */
import { Worker } from 'node:worker_threads';

const WATCH = `
const { workerData } = require('node:worker_threads');
setInterval(() => { if (process.ppid !== workerData.ppid) process.kill(workerData.pid, 'SIGKILL'); }, 250);
`;

// the parent's pid comes from the parent: one that died before this ran has already been replaced
const parent = Number(process.env.APC_EXIT_WITH_PARENT);
if (Number.isInteger(parent) && parent > 1) {
  const watcher = new Worker(WATCH, { eval: true, workerData: { ppid: parent, pid: process.pid } });
  watcher.unref(); // the watch alone must not keep a finished child alive
}
export {};
