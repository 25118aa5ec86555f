import type { Registration, RegistrationStatus } from './registration.entity.js';

export interface RegistrationView {
  id: string;
  sessionId: string;
  status: RegistrationStatus;
  queuedAt: string;
  joinedAt: string | null;
}

export const registrationView = (r: Registration): RegistrationView => ({
  id: r.id,
  sessionId: r.sessionId,
  status: r.status,
  queuedAt: r.queuedAt.toISOString(),
  joinedAt: r.joinedAt === null ? null : r.joinedAt.toISOString(),
});
