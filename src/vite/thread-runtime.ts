// The runtime as server code in a worker thread imports it (Nitro 3's dev worker): the same
// exports, and this thread's reload records go to the ledger page in the main thread.
import { forwardReports } from './worker-reports.ts';

export * from '../runtime/index.ts';

forwardReports();
