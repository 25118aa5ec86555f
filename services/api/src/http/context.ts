import type { Logger } from 'pino';
import type { AccessClaims } from '../accounts/tokens.js';
import type { ApiServices } from '../services.js';

declare module 'koa' {
  interface DefaultContext {
    services: ApiServices;
    log: Logger;
    requestId: string;
  }
  interface DefaultState {
    auth?: AccessClaims;
  }
}
