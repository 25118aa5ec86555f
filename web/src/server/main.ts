import { createServer } from 'node:http';
import { buildWebServer } from './app.js';
import { loadConfig } from './config.js';
import { loadStaticFiles } from './static-files.js';

/** Seconds between SIGTERM and closing: /readyz is 503 meanwhile, so the Service stops sending first. */
const DRAIN_MS = 5_000;

const config = loadConfig(process.env);
const files = loadStaticFiles(config.WEB_APP_DIR);
const readiness = { draining: false };
const server = createServer(buildWebServer({ files, readiness }));
// The image carries no node_modules, so not the services' shared `listen`: a port it cannot bind stops it here.
const cannotListen = (err: NodeJS.ErrnoException) => {
  console.error(`pulse-web: cannot listen on port ${config.WEB_PORT}: ${err.code ?? err.message}`);
  process.exit(1);
};
server.once('error', cannotListen);
server.listen(config.WEB_PORT, () => {
  server.off('error', cannotListen);
  console.log(
    JSON.stringify({
      msg: 'web app served',
      port: config.WEB_PORT,
      dir: config.WEB_APP_DIR,
      files: files.size,
    }),
  );
});
process.once('SIGTERM', () => {
  readiness.draining = true;
  setTimeout(() => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  }, DRAIN_MS).unref();
});
