export { PulseClient, unwrap } from './rest.js';
export type {
  PulseClientOptions,
  User,
  AuthResult,
  Session,
  SessionWithRegistration,
  SessionPage,
  Registration,
  JoinResult,
  SessionResults,
  LeaderboardEntry,
  Feedback,
  FeedbackSummary,
  HistoryPage,
  HistoryEntry,
  ClassEnergy,
  ClassMinute,
  EnergyBucket,
  Profile,
  ProfileChange,
  FollowPage,
  FollowEntry,
  SignUp,
  NewSession,
  SessionEdit,
  NewFeedback,
  SessionQuery,
  PageQuery,
} from './rest.js';
export { PulseApiError, PulseNetworkError } from './errors.js';
export { TokenKeeper } from './tokens.js';
export type { TokenPair, RefreshCall } from './tokens.js';
export {
  LiveSession,
  DEFAULT_STALE_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RESEND_DELAY_MS,
  DEFAULT_MAX_TICKET_RENEWALS,
} from './live.js';
export type {
  LiveState,
  LiveEndState,
  LiveEnd,
  LiveEvents,
  LiveOptions,
  LiveTicket,
  WebSocketLike,
  WebSocketFactory,
} from './live.js';
export { RatingOutbox } from './outbox.js';
export type { PendingRating } from './outbox.js';
export { backoffDelayMs, DEFAULT_BACKOFF } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { CloseCode, ErrorCode } from '@pulse/contracts';
export type {
  ServerFrame,
  WelcomeFrame,
  WaitingFrame,
  StartedFrame,
  RankFrame,
  RescheduledFrame,
  EndedFrame,
  CancelledFrame,
  ErrorFrame,
  TopEntry,
  BoardFrame,
  MainBoard,
} from '@pulse/contracts';
export type { paths, components, operations } from './generated/openapi.js';
