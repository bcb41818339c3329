/**
 * The guide sections of the reference (auth, quickstart, paying by LNURL, machines over MQTT, rate
 * limits, errors, webhooks, GUI login), in reading order. Their prose is Markdown in `prose/`
 * (`prose.ts` reads and fills it); this file supplies the deployment's values and the examples.
 */
import { exEvent } from './endpoints.js';
import { lnurlSection } from './guide-lnurl.js';
import { mqttSection } from './guide-mqtt.js';
import { proseSection } from './prose.js';
import { EXAMPLE } from './records.js';

/** What differs between deployments and shows up in the documents. */
export interface DocsSettings {
  /** Base URL of the machine-payments family, no trailing slash. */
  baseUrl: string;
  /** 0 = unlimited. */
  rateLimitPerMinute: number;
  /** 0 = unlimited; absent: twice rateLimitPerMinute (the default). */
  rateLimitPerAccountPerMinute?: number;
  /** Live keys per account; absent: 10 (the default). */
  maxKeysPerAccount?: number;
  /** Live assets per account; absent: 1,000 (the default). */
  maxAssetsPerAccount?: number;
  signupsPerHour: number;
}

/** A piece of a guide section. Text may hold `inline code` in backticks. */
export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'steps'; items: string[] }
  /** A small table; cells are plain text, `mono` columns are set in a fixed-width font. */
  | { kind: 'table'; columns: { title: string; width: number; mono?: boolean }[]; rows: string[][] }
  /** The example request of an endpoint, as curl; `withBody: false` leaves its optional body out. */
  | { kind: 'request'; title: string; endpoint: string; withBody?: false }
  /** The table of every endpoint. */
  | { kind: 'endpoint-index' }
  /** The table of every error code. */
  | { kind: 'errors' };

export interface Section {
  id: string;
  title: string;
  blocks: Block[];
}

/** The values of `prose/rate-limits.md`: a limit of 0 means unlimited, and its sentence says so. */
function rateLimitValues(s: DocsSettings) {
  return {
    rateLimitPerMinute: s.rateLimitPerMinute,
    accountLimit: s.rateLimitPerAccountPerMinute ?? 2 * s.rateLimitPerMinute,
    maxKeysPerAccount: s.maxKeysPerAccount ?? 10,
    maxAssetsPerAccount: s.maxAssetsPerAccount ?? 1000,
    signupsPerHour: s.signupsPerHour,
  };
}

/** The guide around the endpoint reference, in reading order. */
export function guideSections(s: DocsSettings): Section[] {
  return [
    proseSection('overview'),
    proseSection('auth', { baseUrl: s.baseUrl }),
    proseSection('quickstart'),
    lnurlSection(),
    mqttSection(),
    proseSection('endpoints'),
    proseSection('gui'),
    proseSection('rate-limits', rateLimitValues(s)),
    proseSection('errors'),
    proseSection('webhooks', {
      eventPayload: JSON.stringify({ type: 'event.action', timestamp: EXAMPLE.time, data: { ...exEvent, user_id: EXAMPLE.userId } }, null, 2),
    }),
  ];
}
