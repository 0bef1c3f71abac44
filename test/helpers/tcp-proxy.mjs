/**
 * A loopback TCP proxy that can cut the line without closing it, so a client behind it sees a
 * partition (its requests go unanswered, no RST) rather than a clean disconnect. Tests put one in
 * front of each etcd member to cut one "host" off the cluster while the others carry on.
 */
import net from 'node:net';

/**
 * Starts one proxy per target URL (`http://127.0.0.1:PORT`) and returns their endpoints.
 *
 * @param {string[]} targets
 * @returns {Promise<import('./etcd-cluster.d.mts').Partition>}
 * @example
 * const line = await startPartitionProxy(cluster.endpoints);
 * const engine = createEtcdLockEngine({ endpoints: line.endpoints, ... });
 * line.block();   // keepalives now go unanswered: the lease lapses
 * line.unblock(); // traffic flows again (new connections and the held ones)
 */
export async function startPartitionProxy(targets) {
  let blocked = false;
  /** @type {Set<{ client: net.Socket, upstream: net.Socket }>} */
  const pairs = new Set();
  const servers = await Promise.all(targets.map((target) => {
    const { hostname, port } = new URL(target);
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(port), hostname);
      const pair = { client, upstream };
      pairs.add(pair);
      // While blocked, bytes are swallowed, as a dead link would; nothing is replayed afterwards.
      client.on('data', (chunk) => { if (!blocked) upstream.write(chunk); });
      upstream.on('data', (chunk) => { if (!blocked) client.write(chunk); });
      const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
  }));
  return {
    endpoints: servers.map((s) => `http://127.0.0.1:${/** @type {net.AddressInfo} */ (s.address()).port}`),
    block: () => { blocked = true; },
    unblock: () => {
      blocked = false;
      // Connections that lost bytes are corrupt streams now; end them so the client reconnects.
      for (const pair of pairs) { pair.client.destroy(); pair.upstream.destroy(); }
    },
    close: async () => {
      for (const pair of pairs) { pair.client.destroy(); pair.upstream.destroy(); }
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))));
    },
  };
}
