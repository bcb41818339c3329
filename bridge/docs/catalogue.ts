/**
 * The shape of the endpoint catalogue: what one entry says about a route (request schemas, response
 * record, examples, error codes), the tags that group entries, and the typed helpers entries are
 * written with. `endpoints.ts`, `lightning-endpoints.ts` and `device-endpoints.ts` hold the entries themselves.
 */
import type { z } from 'zod';
import type { ErrorCode } from './errors.js';
import { EXAMPLE, type RESPONSES, type ResponseName } from './records.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type TagName = 'Accounts' | 'Keys' | 'Assets' | 'Lightning' | 'Devices' | 'Events' | 'Webhooks' | 'Documents';

/** In the order the PDF lists them; `ENDPOINTS` follows the same order. */
export const TAGS: { name: TagName; description: string }[] = [
  { name: 'Accounts', description: 'Sign up, read the account, rotate its key, log in to the GUI.' },
  { name: 'Keys', description: 'Extra API keys, including read-only ones.' },
  { name: 'Assets', description: 'The machines an account sells time on.' },
  {
    name: 'Lightning',
    description:
      'Getting paid over Lightning: each asset\u2019s permanent LNURL-pay link (Lightning address and QR code), its payments, the account\u2019s own wallet, hosted checkout and the BTCPay webhook. Payers use the public LNURL endpoints described in \u201cPaying a machine (LNURL)\u201d.',
  },
  {
    name: 'Devices',
    description:
      'The machine\u2019s side over MQTT: device credentials (an MQTT login confined to one asset) and the manual trigger (run the machine without a payment). The topics themselves are described in \u201cMachines over MQTT\u201d.',
  },
  { name: 'Events', description: 'The account\u2019s event log: paid, action, error and custom events.' },
  { name: 'Webhooks', description: 'Signed outbound webhooks and their delivery log.' },
  { name: 'Documents', description: 'This reference, as OpenAPI and PDF, and the liveness probe.' },
];

/** A request body or query: the zod schema the route validates with, a description per field, an example. */
export interface InputDoc {
  name: string;
  schema: z.ZodType;
  fields: Record<string, string>;
  example: Record<string, unknown>;
}

export interface ResponseDoc {
  status: number;
  description: string;
  contentType: 'application/json' | 'application/pdf';
  /** Absent for non-JSON bodies. */
  schema?: ResponseName;
  example?: unknown;
}

export interface ParamDoc {
  description: string;
  example: string;
  /** When the parameter is narrower than an id we issued (`^[A-Za-z0-9_-]{1,64}$`). */
  pattern?: string;
}

/**
 * Who may call an endpoint. `bearer`: an API key or session token; `admin`: the server's admin
 * token, not an API key (no scope, no per-key rate limit); `public`: anyone (some check a signature
 * header of their own, listed in `headers`).
 */
export type AuthKind = 'public' | 'bearer' | 'admin';

export interface Endpoint {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI style: `/api/v1/assets/{id}`. */
  path: string;
  tag: TagName;
  summary: string;
  description: string;
  auth: AuthKind;
  /** Writes are refused to read-only keys (403 insufficient_scope). */
  writes: boolean;
  /** Path parameters and their example values. */
  params?: Record<string, ParamDoc>;
  /** Request headers the endpoint reads besides Authorization (a signature). */
  headers?: Record<string, { description: string; example: string }>;
  query?: InputDoc;
  body?: InputDoc;
  response: ResponseDoc;
  /** Codes particular to this endpoint; `errorsOf` adds the ones every such endpoint shares. */
  errors: ErrorCode[];
  /** Not behind the family's validation (documents): no implied invalid_body. */
  plain?: boolean;
}

type Fields<S extends z.ZodType> = { [K in keyof z.input<S>]-?: string };

export function input<S extends z.ZodType>(name: string, schema: S, fields: Fields<S>, example: z.input<S> & Record<string, unknown>): InputDoc {
  return { name, schema, fields, example };
}

export function ok<N extends ResponseName>(status: number, schema: N, description: string, example: z.input<(typeof RESPONSES)[N]>): ResponseDoc {
  return { status, description, contentType: 'application/json', schema, example };
}

/** The `{id}` of the asset routes. */
export const assetParam = { id: { description: 'The asset id', example: EXAMPLE.assetId } };

export const pageFields = { limit: 'Page size, 1-200 (default 50).', cursor: 'The next_cursor of the previous page.' };
