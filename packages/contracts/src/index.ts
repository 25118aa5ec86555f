export { ErrorCode, HttpStatus, CloseCode } from './errors.js';
export type { ErrorEnvelope } from './errors.js';
export {
  MAX_CLIENT_FRAME_BYTES,
  MAX_SOCKET_PAYLOAD_BYTES,
  MAX_MESSAGE_FRAGMENTS,
  MAX_PENDING_PONGS,
  MAX_SEQ,
  LIVE_PATH,
  DEVICE_QUERY,
  ATTEMPT_QUERY,
  DEVICE_ID_PATTERN,
  DeviceId,
  DeviceAttempt,
  RatingFrame,
  PingFrame,
  BoardFrame,
  ClientFrame,
  LiveState,
  TopEntry,
  WelcomeFrame,
  WaitingFrame,
  StartedFrame,
  RankFrame,
  RescheduledFrame,
  CancelledFrame,
  EndedFrame,
  ErrorFrame,
  PongFrame,
  ServerFrame,
  parseClientFrame,
  parseServerFrame,
  resultsPath,
  SCORE_ALLOWANCE,
} from './frames.js';
export type { FrameError, ParseResult } from './frames.js';
export {
  DEFAULT_NATS_NAMESPACE,
  natsNames,
  RATING_PARTITIONS,
  RATING_BATCH_TOKEN,
  RATING_BARRIER_TOKEN,
  partitionOf,
  subjectToken,
  streamConfigs,
  RATINGS_DUPLICATE_WINDOW_MS,
  ratingMsgId,
  participantMsgId,
  endBarrierMsgId,
  RatingMessage,
  ParticipantMessage,
  EndBarrierMessage,
  LiveMessage,
  SessionStatus,
  SessionSnapshot,
  SessionEventType,
  SessionEvent,
  RegistrationEventStatus,
  RegistrationEvent,
  ResultsFinal,
  RANK_SNAPSHOT_CHUNK,
  RankSnapshot,
  BandBoard,
  PresenceBeat,
  Takeover,
} from './nats.js';
export type { NatsNames } from './nats.js';
export {
  RATING_BATCH_MAX,
  encodeRatingBatch,
  decodeRatingBatch,
  ratingBatchMsgId,
  LastSeqRequest,
  LastSeqReply,
} from './rating-batch.js';
export type { RatingBatch } from './rating-batch.js';
export { JOIN_TICKET, JoinTicketClaims } from './tickets.js';
export {
  CLICKHOUSE_DB_PATTERN,
  ClickHouseTable,
  clickhouseSchema,
  CLICKHOUSE_ADDED_COLUMNS,
  addedColumnsQuery,
  addColumnStatements,
} from './clickhouse.js';
export type { RatingRow, StandingRow, MinuteRow, SessionResultRow } from './clickhouse.js';
export { ASYNCAPI_VERSION, ASYNCAPI_FRAME_TYPES, asyncApiDocument } from './asyncapi.js';
export type { AsyncApiDocument, AsyncApiOptions } from './asyncapi.js';
export { CREDENTIAL_LOG_PATHS, redactQuery, logRedaction } from './logging.js';
export {
  Gender,
  GENDERS,
  MAX_FOLLOWING,
  MIN_PROFILE_AGE,
  MIN_BIRTH_YEAR,
  AGE_BANDS,
  AgeBandId,
  BAND_TOP_SIZE,
  FOLLOWING_TOP_SIZE,
  FollowSet,
  ageBandOf,
  MainBoard,
  BEST_CURVE_MAX_MINUTES,
  PersonalBestClaim,
  bestAtMinute,
} from './social.js';
export type { AgeBand } from './social.js';
