/**
 * Opens the `volwarden/client` connection a command needs and makes sure it is closed however
 * the command ends, so a failing command never leaves the process hanging on a socket.
 */
import { connect, type WardenClient } from '../client/index.js';

/**
 * Runs `fn` with a connected client and closes it afterwards.
 *
 * @example
 * await withClient(socket, 'volwarden check', (c) => c.check(volume));
 */
export async function withClient<T>(socket: string, name: string, fn: (client: WardenClient) => Promise<T>): Promise<T> {
  const client = await connect({ socket, name });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
