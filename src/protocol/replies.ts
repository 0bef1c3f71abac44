/**
 * Builders for what the daemon writes on the wire (SPEC §10), so the `id + 100` / `seq` echo
 * rule lives in one place.
 */
import type { ErrorCode } from '../errors.js';
import { REPLY_OFFSET } from './types.js';

/** A reply frame: `id` = request id + 100 (0 for framing errors), the request's `seq`, `ret`. */
export interface Reply {
  id: number;
  seq?: number;
  ret: 'OK' | ErrorCode;
  [field: string]: unknown;
}

/** The part of a request a reply echoes. */
export interface RequestRef {
  id: number;
  seq: number;
}

/**
 * A success reply carrying result fields; `id`, `seq` and `ret` always win over `fields`.
 *
 * @example
 * conn.send(okReply(req, { token: 42 }));   // {"id":1101,"seq":7,"ret":"OK","token":42}
 */
export function okReply(req: RequestRef, fields: Record<string, unknown> = {}): Reply {
  return frame(req, 'OK', fields);
}

/**
 * An error reply; `fields` carries extras such as `busyVolume` or a one-line `error`.
 *
 * @example
 * conn.send(errorReply(req, 'EBUSY', { busyVolume: 'path:/data' }));
 */
export function errorReply(req: RequestRef, code: ErrorCode, fields: Record<string, unknown> = {}): Reply {
  return frame(req, code, fields);
}

// Key order on the wire stays id, seq, ret, ...fields, and fields can never forge the header.
function frame(req: RequestRef, ret: Reply['ret'], fields: Record<string, unknown>): Reply {
  const header = { id: req.id + REPLY_OFFSET, seq: req.seq, ret };
  return Object.assign({ ...header }, fields, header);
}

/** Sent before closing a connection whose line is not one JSON object. */
export const BAD_MESSAGE_FRAME: Readonly<Reply> = Object.freeze({ id: 0, ret: 'EBADMSG' });
/** Sent before closing a connection that sent more than 1 MiB without a newline. */
export const MESSAGE_TOO_LARGE_FRAME: Readonly<Reply> = Object.freeze({ id: 0, ret: 'EMSGSIZE' });
/** Sent before closing a connection beyond `maxClients`. */
export const TOO_MANY_CLIENTS_FRAME: Readonly<Reply> = Object.freeze({ id: 0, ret: 'EMFILE' });

/** The frame that answers a framing error code from the line decoder. */
export function framingErrorFrame(code: 'EBADMSG' | 'EMSGSIZE'): Readonly<Reply> {
  return code === 'EBADMSG' ? BAD_MESSAGE_FRAME : MESSAGE_TOO_LARGE_FRAME;
}
