import type { Partition } from './etcd-cluster.d.mts';

/** Starts one blockable loopback proxy per target URL. */
export declare function startPartitionProxy(targets: string[]): Promise<Partition>;
