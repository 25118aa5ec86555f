import type { AccountService } from './accounts/account-service.js';
import type { ClassEnergyService } from './class-energy/class-energy-service.js';
import type { FeedbackService } from './feedback/feedback-service.js';
import type { RegistrationService } from './registrations/registration-service.js';
import type { HistoryService } from './results/history-service.js';
import type { ResultsService } from './results/results-service.js';
import type { SessionService } from './sessions/session-service.js';
import type { SocialService } from './social/social-service.js';

/** What route handlers reach through `ctx.services`. */
export interface ApiServices {
  accounts: AccountService;
  sessions: SessionService;
  registrations: RegistrationService;
  feedback: FeedbackService;
  results: ResultsService;
  history: HistoryService;
  social: SocialService;
  classEnergy: ClassEnergyService;
}
