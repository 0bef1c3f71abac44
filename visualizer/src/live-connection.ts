import type { InspectRecord } from '../../src/inspect/records.js';

/** What the page shows about the live link. */
export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'unavailable';

/**
 * Follows the daemon's `/ws` inspection stream, reconnecting with backoff (1 s up to 10 s) so a
 * restarted daemon is picked up without reloading. Each message is a JSON array of records.
 *
 * @example
 * const stop = connectLive(location, (records) => records.forEach(apply), setStatus);
 */
export function connectLive(
  location: Location,
  onRecords: (records: InspectRecord[]) => void,
  onStatus: (status: ConnectionStatus, detail?: string) => void,
): () => void {
  if (location.protocol !== 'http:' && location.protocol !== 'https:') {
    onStatus('unavailable', 'open the page from the daemon (volwarden daemon --inspect-port N) to see live actors');
    return () => undefined;
  }
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  let socket: WebSocket | undefined;
  let retryMs = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const open = () => {
    onStatus('connecting');
    socket = new WebSocket(url);
    socket.addEventListener('open', () => {
      retryMs = 1000;
      onStatus('connected');
    });
    socket.addEventListener('message', (message) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(message.data));
      } catch {
        return;
      }
      onRecords(Array.isArray(parsed) ? (parsed as InspectRecord[]) : [parsed as InspectRecord]);
    });
    socket.addEventListener('close', (event) => {
      if (stopped) return;
      onStatus('disconnected', event.code === 1013 ? 'the page fell behind the daemon and was disconnected' : undefined);
      timer = setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    });
  };
  open();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    socket?.close();
  };
}
