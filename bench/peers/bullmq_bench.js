// BullMQ for Node (the seed's queue engine) as a peer of bench/queue_throughput.py.
//
//   node bullmq_bench.js process <redis-url> <jobs> <concurrency> <enqueue 0|1>
//   node bullmq_bench.js memory <redis-url> <jobs>
//
// `process` does what the bench's Python children do: add <jobs> no-op jobs one by one
// (if enqueue is 1; then removed), add <jobs> in bulk, and process them with a no-op
// processor at <concurrency>, jobs removed on completion; it counts the commands ioredis
// sends while processing. `memory` adds <jobs> waiting jobs with the bench's payload and
// sums MEMORY USAGE over every key of the queue. Each prints one JSON line and exits.
'use strict';

const IORedis = require('ioredis');
const { Queue, Worker } = require('bullmq');

let sent = 0;
const original = IORedis.prototype.sendCommand;
IORedis.prototype.sendCommand = function (...args) {
  sent += 1;
  return original.apply(this, args);
};

const PREFIX = 'lpbench-bullnode';
const rate = (n, t0) => n / (Number(process.hrtime.bigint() - t0) / 1e9);
const now = () => process.hrtime.bigint();

async function deleteQueue(url, name) {
  const conn = new IORedis(url);
  let cursor = '0';
  do {
    const [next, keys] = await conn.scan(cursor, 'MATCH', `${PREFIX}:${name}:*`, 'COUNT', 1000);
    if (keys.length) await conn.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await conn.quit();
}

async function addBulk(queue, n, opts) {
  for (let i = 0; i < n; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(i + 1000, n); j++) batch.push({ name: 'noop', data: { i: j }, opts });
    await queue.addBulk(batch);
  }
}

async function processJobs(url, n, concurrency, enqueue) {
  const name = `bench-${Math.random().toString(16).slice(2, 10)}`;
  const connection = { url };
  const queue = new Queue(name, { connection, prefix: PREFIX });
  const opts = { removeOnComplete: true };
  const out = {};
  try {
    if (enqueue) {
      const t0 = now();
      for (let i = 0; i < n; i++) await queue.add('noop', { i }, opts);
      out.enqueue_single = rate(n, t0);
      await queue.obliterate({ force: true });
    }
    let t0 = now();
    await addBulk(queue, n, opts);
    out.enqueue_bulk = rate(n, t0);
    let count = 0;
    let done;
    const finished = new Promise((resolve) => { done = resolve; });
    const start = sent;
    t0 = now();
    const worker = new Worker(name, async () => {
      count += 1;
      if (count >= n) done();
    }, { connection: { url, maxRetriesPerRequest: null }, prefix: PREFIX, concurrency });
    await finished;
    out.process = rate(n, t0);
    out.commands_per_job = (sent - start) / n;
    out.rss_mb = process.memoryUsage().rss / 2 ** 20;
    await worker.close();
  } finally {
    await queue.close();
    await deleteQueue(url, name);
  }
  return out;
}

async function memory(url, n) {
  const name = `bench-${Math.random().toString(16).slice(2, 10)}`;
  const queue = new Queue(name, { connection: { url }, prefix: PREFIX });
  const conn = new IORedis(url);
  try {
    await addBulk(queue, n, {});
    let total = 0;
    let keys = 0;
    let cursor = '0';
    do {
      const [next, found] = await conn.scan(cursor, 'MATCH', `${PREFIX}:${name}:*`, 'COUNT', 1000);
      for (const key of found) {
        total += Number(await conn.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
        keys += 1;
      }
      cursor = next;
    } while (cursor !== '0');
    return { bytes_per_job: total / n, keys };
  } finally {
    await queue.close();
    await conn.quit();
    await deleteQueue(url, name);
  }
}

async function main() {
  const [mode, url, jobs, concurrency, enqueue] = process.argv.slice(2);
  const out = mode === 'memory'
    ? await memory(url, Number(jobs))
    : await processJobs(url, Number(jobs), Number(concurrency), enqueue === '1');
  out.version = require('bullmq/package.json').version;
  console.log(JSON.stringify(out));
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
