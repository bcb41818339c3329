/**
 * The embedded MQTT broker (Aedes) on its own TCP port. Clients log in with username = account
 * `user_id` and password = an API key of that account; anonymous or wrong credentials are refused at
 * CONNECT, and `acl.ts` confines each client to its account's topics.
 */
import { createServer, type Server } from 'node:net';
import type { Aedes, AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import type { KeyScope } from '../bridge/machines/types.js';
import { mayPublish, maySubscribe, type ClientIdentity } from './acl.js';

export interface BrokerAuthenticator {
  /** The identity behind a username/password pair, or undefined when they do not match. */
  authenticate(username: string, password: string): Promise<{ userId: string; scope: KeyScope } | undefined>;
}

export interface BrokerOptions {
  host: string;
  port: number;
  /** When false (the port was left at its default), a taken port moves the broker to the next free one. */
  portExplicit: boolean;
  auth: BrokerAuthenticator;
  log: Logger;
}

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3. */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const PORT_FALLBACKS = 10;

const identities = new WeakMap<Client, ClientIdentity>();

function refuse(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class Broker {
  private readonly options: BrokerOptions;
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private boundPort = 0;

  constructor(options: BrokerOptions) {
    this.options = options;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<number> {
    const { Aedes } = await import('aedes');
    const { auth, log } = this.options;
    const aedesOptions: AedesOptions = {
      // Options for a broker facing the internet (advisory GHSA-5jvp-3p2v-5qgf and Aedes' own guidance).
      drainTimeout: 10_000,
      maxInflightInbound: 100,
      connectTimeout: 10_000,
      keepaliveLimit: 3_600,
      maxTopicLevels: 16,
      maxClientsIdLength: 64,
      queueLimit: 256,
      authenticate: (client, username, password, done) => {
        if (username === undefined || password === undefined) {
          done(refuse('anonymous clients are not allowed', NOT_AUTHORIZED), false);
          return;
        }
        auth
          .authenticate(username, password.toString('utf8'))
          .then((identity) => {
            if (!identity) {
              done(refuse('bad username or password', BAD_USERNAME_OR_PASSWORD), false);
              return;
            }
            identities.set(client, identity);
            done(null, true);
          })
          .catch((err: unknown) => {
            log.error({ err }, 'mqtt authentication failed');
            done(refuse('server unavailable', 3), false);
          });
      },
      authorizePublish: (client, packet, done) => {
        const identity = client ? identities.get(client) : undefined;
        done(mayPublish(identity, packet.topic) ? null : new Error(`publish to ${packet.topic} denied`));
      },
      authorizeSubscribe: (client, sub, done) => {
        // `null` as the subscription refuses it with SUBACK 0x80 and keeps the connection open.
        done(null, maySubscribe(identities.get(client), sub.topic) ? sub : null);
      },
    };
    this.aedes = await Aedes.createBroker(aedesOptions);
    this.aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));
    this.server = createServer(this.aedes.handle);
    this.boundPort = await this.listen(this.server);
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = undefined;
    this.aedes = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  private async listen(server: Server): Promise<number> {
    const { host, port, portExplicit, log } = this.options;
    const attempts = portExplicit || port === 0 ? 1 : PORT_FALLBACKS;
    for (let i = 0; i < attempts; i++) {
      try {
        return await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port + i, host, () => {
            server.off('error', reject);
            const address = server.address();
            resolve(typeof address === 'object' && address !== null ? address.port : port + i);
          });
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        if (i === attempts - 1) {
          throw new Error(
            portExplicit
              ? `MQTT_PORT ${port} is already in use: stop the other broker or choose another MQTT_PORT`
              : `MQTT ports ${port}-${port + i} are all in use: set MQTT_PORT`,
          );
        }
        log.warn({ port: port + i }, `MQTT port ${port + i} is in use (another broker?); trying ${port + i + 1}. Set MQTT_PORT to choose.`);
      }
    }
    throw new Error('unreachable');
  }
}
