// One process of the redis-semaphore contender in the admit-redis fleet benchmark.
//
// usage: node peer.js <redis-url> <key> <limit> <tasks> <ops>
// Connects, prints "ready", waits for a line on stdin, then runs <tasks> concurrent loops that
// together acquire and release the semaphore <ops> times (redis-semaphore's defaults: it polls
// every 10 ms while waiting). Prints one JSON line: ops, elapsed_ns, lat (acquire latencies, ns),
// then waits for another line before exiting.
'use strict';
const Redis = require('ioredis');
const { Semaphore } = require('redis-semaphore');

async function main() {
  const [url, key, limit, tasks, ops] = process.argv.slice(2);
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const lat = [];
  let left = Number(ops);
  const start = process.hrtime.bigint();
  async function loop() {
    while (left > 0) {
      left -= 1;
      const sem = new Semaphore(client, key, Number(limit), { acquireTimeout: 60000 });
      const t0 = process.hrtime.bigint();
      await sem.acquire();
      lat.push(Number(process.hrtime.bigint() - t0));
      await sem.release();
    }
  }
  await Promise.all(Array.from({ length: Number(tasks) }, loop));
  const elapsed = Number(process.hrtime.bigint() - start);
  process.stdout.write(JSON.stringify({ ops: lat.length, elapsed_ns: elapsed, lat }) + '\n');
  // Stay until told to go, so the driver can read this process's CPU time.
  await new Promise((resolve) => process.stdin.once('data', resolve));
  await client.quit();
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
