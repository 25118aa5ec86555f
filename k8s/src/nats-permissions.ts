/**
 * Who may publish and subscribe to what on production NATS: one user per service, each limited to its own
 * subjects and the JetStream API calls it makes on its own streams. This table is the one place: the
 * NATS Helm values (k8s/nats/values.yaml) render it, and k8s/test/nats-permissions.test.ts starts a real
 * nats-server with the same table and drives each user's operations through it.
 *
 * Subject names come from @pulse/contracts' natsNames(); the services' operations behind each line:
 * - api: publishes session lifecycle and registration events and follow sets (JetStream, outbox) and applies
 *   the stream and follows-bucket settings on start; hears `ended` events and the engine's results-final
 *   notices (core subscriptions) to freeze results as soon as they are final.
 * - gateway: publishes rating batches and participant messages (JetStream), reads the last message of a
 *   subject (a session's state), asks the engines for a user's lastSeq (core request), shares presence,
 *   receives session events and rank snapshots (core subscriptions), applies the stream settings on start.
 * - engine: reads each ratings partition through a durable pull consumer (and an ordered one to replay),
 *   discovers sessions through an ordered consumer on the events stream, owns partitions through the KV
 *   bucket, reads a partition's last message (where a replay ends), stores and loads partition checkpoints
 *   in the checkpoints object store, answers lastSeq requests (replies on the requester's inbox), publishes rank
 *   snapshots and results-final notices, hears the gateways' presence beats (end barriers, issue 14), applies
 *   the stream settings on start.
 */

import type { NatsNames } from '@pulse/contracts';

export type { NatsNames };

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

export const SERVICE_USERS = ['api', 'gateway', 'engine'] as const;
export type ServiceUser = (typeof SERVICE_USERS)[number];
/** Operators (nats-box): everything. Never given to a service. */
export const ADMIN_USER = 'admin';

/** Request replies (JetStream API answers, publish acks) come back on the client's inbox. */
export const INBOX = '_INBOX.>';
const JS_ACCOUNT_INFO = '$JS.API.INFO';

/** Look up, create and update a stream: every service applies the stream settings on start. */
const streamSettings = (stream: string) => [
  `$JS.API.STREAM.INFO.${stream}`,
  `$JS.API.STREAM.CREATE.${stream}`,
  `$JS.API.STREAM.UPDATE.${stream}`,
];

/** Read single messages (by sequence or last-by-subject), with or without the direct-get API. */
const messageReads = (stream: string) => [
  `$JS.API.STREAM.MSG.GET.${stream}`,
  `$JS.API.DIRECT.GET.${stream}`,
  `$JS.API.DIRECT.GET.${stream}.>`,
];

/** Create, inspect, pull from, ack and delete consumers of one stream (durable and ordered). */
const consumerUse = (stream: string) => [
  `$JS.API.CONSUMER.CREATE.${stream}`,
  `$JS.API.CONSUMER.CREATE.${stream}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
  `$JS.API.CONSUMER.INFO.${stream}.>`,
  `$JS.API.CONSUMER.DELETE.${stream}.>`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
  `$JS.ACK.${stream}.>`,
  `$JS.FC.${stream}.>`,
];

/**
 * An object store is the stream OBJ_<bucket> written through $O.<bucket>.C.<nuid> (chunks) and
 * $O.<bucket>.M.<name> (metadata); replacing an object purges the previous chunks.
 */
const objectStore = (bucket: string) => [
  `$O.${bucket}.>`,
  ...streamSettings(`OBJ_${bucket}`),
  `$JS.API.STREAM.PURGE.OBJ_${bucket}`,
  ...messageReads(`OBJ_${bucket}`),
  ...consumerUse(`OBJ_${bucket}`),
];

/** A KV bucket is the stream KV_<bucket> written through $KV.<bucket>.<key>. */
const kvBucket = (bucket: string) => [
  `$KV.${bucket}.>`,
  ...streamSettings(`KV_${bucket}`),
  ...messageReads(`KV_${bucket}`),
  ...consumerUse(`KV_${bucket}`),
];

const ANY = '*';

export function servicePermissions(names: NatsNames): Record<ServiceUser, Permissions> {
  const streams = [names.ratingsStream, names.eventsStream].flatMap(streamSettings);
  return {
    api: {
      publish: [
        names.allSessionEvents,
        names.allRegistrationEvents,
        JS_ACCOUNT_INFO,
        ...streams,
        // Follow sets (issue 16): the API writes the follows bucket through its outbox and ensures it on start.
        `$KV.${names.followsBucket}.>`,
        ...streamSettings(`KV_${names.followsBucket}`),
      ],
      // The results freeze (issue 13): a session's `ended` event, then the engine's word that it is final.
      subscribe: [names.allSessionEvents, names.allResultsFinal, INBOX],
    },
    gateway: {
      publish: [
        names.allRatings,
        names.allLastSeqRequests,
        names.presence(ANY),
        names.takeover(ANY),
        JS_ACCOUNT_INFO,
        ...streams,
        ...messageReads(names.ratingsStream),
        ...messageReads(names.eventsStream),
        // Follow sets (issue 16): read a trainee's on connect, watch for changes; never written here.
        ...streamSettings(`KV_${names.followsBucket}`),
        ...messageReads(`KV_${names.followsBucket}`),
        ...consumerUse(`KV_${names.followsBucket}`),
      ],
      subscribe: [
        names.allSessionEvents,
        names.allRegistrationEvents,
        names.ranks(ANY),
        names.presence(ANY),
        names.takeover(ANY),
        INBOX,
      ],
    },
    engine: {
      publish: [
        names.ranks(ANY),
        names.resultsFinal(ANY),
        INBOX,
        JS_ACCOUNT_INFO,
        ...streams,
        ...consumerUse(names.ratingsStream),
        ...consumerUse(names.eventsStream),
        ...messageReads(names.ratingsStream),
        ...messageReads(names.eventsStream),
        ...kvBucket(names.enginesBucket),
        ...objectStore(names.checkpointsBucket),
      ],
      // Presence beats: which gateways hold clients of an ending session and owe it an end barrier (issue 14).
      subscribe: [names.allLastSeqRequests, names.allPresence, INBOX],
    },
  };
}

/** The password of each user as the NATS server reads it: an environment variable set from a Secret. */
export const passwordEnv = (user: string): string => `${user.toUpperCase().replace(/-/g, '_')}_NATS_PASSWORD`;
/** The Secret (and its keys = user names) the passwords come from, for NATS and for the services. */
export const USERS_SECRET = 'pulse-nats-users';

export interface HelmUser {
  user: string;
  password: string;
  permissions?: Permissions;
}

/** The `config.merge.authorization.users` list of the NATS Helm values (passwords from the environment). */
export function helmUsers(names: NatsNames): HelmUser[] {
  const table = servicePermissions(names);
  return [
    ...SERVICE_USERS.map((user) => ({
      user,
      password: `<< $${passwordEnv(user)} >>`,
      permissions: table[user],
    })),
    { user: ADMIN_USER, password: `<< $${passwordEnv(ADMIN_USER)} >>` },
  ];
}
