/**
 * Redis going away while `apc sweep --queue` or `apc worker` runs (a restart, a network cut): ioredis
 * reconnects and queues the commands meanwhile (`maxRetriesPerRequest: null`), and with AOF on the
 * queue comes back as it was, so both simply wait. BullMQ reports every failed reconnect attempt
 * (several a second) as an error, though: this turns them into one line when Redis goes away and
 * one when it is back. Errors while the connection is up are passed on as they are.
 */
import type { Redis } from 'ioredis';

export interface OutageReporter {
  /** For BullMQ `error` events (and commands that failed): one line per outage, or the error itself. */
  error(err: Error): void;
  /** True while the connection is not usable (an error then is the outage, not a fault of ours). */
  readonly down: boolean;
}

export function reportRedisOutages(connection: Redis, who: string, url: string, log: (line: string) => void): OutageReporter {
  let reported = false;
  connection.on('ready', () => {
    if (reported) log(`${who}: Redis at ${url} is back; carrying on`);
    reported = false;
  });
  return {
    error(err) {
      if (connection.status === 'ready') { log(`${who}: ${err.message}`); return; }
      if (!reported) log(`${who}: Redis at ${url} unreachable (${err.message}); waiting for it to come back (the queue's state is kept in Redis)`);
      reported = true;
    },
    get down() { return connection.status !== 'ready'; },
  };
}
