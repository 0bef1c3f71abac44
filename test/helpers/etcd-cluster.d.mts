/** Types for `etcd-cluster.mjs` and `tcp-proxy.mjs` (plain ESM so benches can use them too). */

export declare const ETCD_BIN: string;

/** Why the etcd tests cannot run here, or null when they can. */
export declare function etcdMissingReason(): string | null;

/** A free loopback TCP port. */
export declare function freePort(): Promise<number>;

/** A running etcd cluster; members are numbered from 0. */
export interface EtcdCluster {
  /** The temp dir holding every member's data. */
  readonly dir: string;
  /** `http://127.0.0.1:PORT` per member. */
  readonly endpoints: string[];
  /** Each member's PID (null once stopped). */
  pids(): Array<number | null>;
  /** Resolves when every running member answers `/health`. */
  waitHealthy(): Promise<void>;
  /** SIGTERM (SIGKILL after 3 s); resolves once it exited. */
  stop(i: number): Promise<void>;
  /** SIGKILL; resolves once it exited. */
  kill(i: number): Promise<void>;
  /** SIGSTOP: the member stays connected but answers nothing. */
  pause(i: number): void;
  /** SIGCONT. */
  resume(i: number): void;
  /** Starts a stopped member again on its data dir; resolves once healthy. */
  start(i: number): Promise<void>;
  /** stop + start. */
  restart(i: number): Promise<void>;
  /** Stops every member by PID and removes the data. */
  destroy(): Promise<void>;
}

export declare function startEtcdCluster(options?: { members?: number; baseDir?: string }): Promise<EtcdCluster>;

/** Loopback proxies in front of each member that can drop all traffic (a partition). */
export interface Partition {
  readonly endpoints: string[];
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}
