/**
 * Prints the NATS Helm values block for the users of nats-permissions.ts, to paste into
 * k8s/nats/values.yaml after a change of the table or of the contracts' subject names:
 *   npx tsc -b && node k8s/dist/src/print-nats-users.js
 * (k8s/test/nats-permissions.test.ts fails while the values differ from the table.)
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { stringify } from 'yaml';
import { helmUsers, type NatsNames } from './nats-permissions.js';

const REPO_ROOT = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const contracts = pathToFileURL(path.join(REPO_ROOT, 'packages/contracts/dist/src/index.js')).href;
const { natsNames } = (await import(contracts)) as { natsNames: (ns?: string) => NatsNames };
console.log(stringify({ authorization: { users: helmUsers(natsNames('pulse')) } }, { lineWidth: 0 }));
