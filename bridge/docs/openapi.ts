/**
 * The OpenAPI 3.1 document of the machine-payments API, built from the catalogue in `endpoints.ts`
 * (OpenAPI 3.1.0, https://spec.openapis.org/oas/v3.1.0). Schemas are JSON Schema 2020-12 made by
 * zod from the same schemas the routes validate with and the records `views.ts` sends.
 */
import { z } from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import { curlCommand, ENDPOINTS, errorsOf, TAGS, type AuthKind, type Endpoint, type InputDoc } from './endpoints.js';
import { ERRORS, errorDoc, type ErrorCode } from './errors.js';
import { guideSections, type DocsSettings, type Section } from './guide.js';
import { PUBLIC_TAGS, publicPaths, type PublicMounts } from './public-paths.js';
import { jsonSchemaOf, RESPONSES, tidyJsonSchema } from './records.js';

type Json = Record<string, unknown>;

export interface OpenApiTarget {
  /** The `servers` URL: absolute when the public URL is known, else relative to this document. */
  serverUrl: string;
  settings: DocsSettings;
  /** The public LNURL, Lightning-address and health paths of the other families, when given. */
  mounts?: PublicMounts;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/** zod schemas to named JSON Schemas; schemas nested in one another become `$ref`s. */
function toSchemas(named: Map<string, z.ZodType>, io: 'input' | 'output'): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of named) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
    override: tidyJsonSchema,
  });
  const out: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as Json;
    out[id] = rest;
  }
  return out;
}

/** The request bodies of every endpoint, each once, with its field descriptions. */
function requestSchemas(): Record<string, Json> {
  const bodies = new Map<string, InputDoc>();
  for (const e of ENDPOINTS) if (e.body) bodies.set(e.body.name, e.body);
  const schemas = toSchemas(new Map([...bodies].map(([name, b]) => [name, b.schema])), 'input');
  for (const [name, b] of bodies) {
    const props = (schemas[name]?.['properties'] ?? {}) as Record<string, Json>;
    for (const [field, description] of Object.entries(b.fields)) if (props[field]) props[field].description = description;
  }
  return schemas;
}

function parameters(e: Endpoint): Json[] {
  const out: Json[] = Object.entries(e.params ?? {}).map(([name, p]) => ({
    name,
    in: 'path',
    required: true,
    description: p.description,
    schema: { type: 'string', pattern: p.pattern ?? '^[A-Za-z0-9_-]{1,64}$' },
    example: p.example,
  }));
  for (const [name, h] of Object.entries(e.headers ?? {})) {
    out.push({ name, in: 'header', required: true, description: h.description, schema: { type: 'string' }, example: h.example });
  }
  if (e.query) {
    const schema = jsonSchemaOf(e.query.schema, 'input');
    const required = new Set((schema['required'] as string[] | undefined) ?? []);
    for (const [name, prop] of Object.entries((schema['properties'] ?? {}) as Record<string, Json>)) {
      const example = e.query.example[name];
      out.push({
        name,
        in: 'query',
        required: required.has(name),
        description: e.query.fields[name] ?? '',
        schema: prop,
        ...(example === undefined ? {} : { example }),
      });
    }
  }
  return out;
}

const RATE_HEADERS = {
  'X-RateLimit-Limit': { $ref: '#/components/headers/RateLimitLimit' },
  'X-RateLimit-Remaining': { $ref: '#/components/headers/RateLimitRemaining' },
};

/** What a code means under a status other than its usual one: by status, or by status and code. */
const STATUS_NOTES: Record<string, string> = {
  '413': 'The request body is too large.',
  '415': 'The request body is not JSON (Content-Type: application/json).',
  '503 backend_unavailable': 'The invoice could not be re-checked at BTCPay; nothing was settled, and BTCPay delivers again later.',
};

const noteOf = (status: number, code: ErrorCode): string => STATUS_NOTES[`${status} ${code}`] ?? STATUS_NOTES[String(status)] ?? errorDoc(code).meaning;

/**
 * The statuses a code is sent with on this endpoint: its usual one; 413/415 where a body is read;
 * any other where the endpoint names the code itself (the BTCPay webhook's 503 backend_unavailable).
 */
function statusesOf(code: ErrorCode, e: Endpoint): number[] {
  const [usual, ...others] = errorDoc(code).statuses;
  const extra = others.filter((s) => (s === 413 || s === 415 ? e.body !== undefined : e.errors.includes(code)));
  return usual === undefined ? extra : [usual, ...extra];
}

/** Only duplicate_event adds a field (event_id) to the error body. */
function errorSchema(codes: ErrorCode[]): Json {
  if (!codes.includes('duplicate_event')) return ref('Error');
  return codes.length === 1 ? ref('DuplicateEventError') : { anyOf: [ref('DuplicateEventError'), ref('Error')] };
}

const SECURITY: Record<AuthKind, Json[]> = { bearer: [{ bearerAuth: [] }], admin: [{ adminAuth: [] }], public: [] };

function responses(e: Endpoint): Json {
  const r = e.response;
  const media: Json =
    r.contentType === 'application/pdf'
      ? { schema: { type: 'string', contentMediaType: 'application/pdf' } }
      : { schema: r.schema ? ref(r.schema) : {}, ...(r.example === undefined ? {} : { example: r.example }) };
  const out: Json = {
    [String(r.status)]: {
      description: r.description,
      ...(e.auth === 'bearer' || e.operationId === 'createAccount' ? { headers: RATE_HEADERS } : {}),
      content: { [r.contentType]: media },
    },
  };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorsOf(e)) for (const s of statusesOf(code, e)) byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${noteOf(status, c)}`).join(' '),
      ...(status === 429 ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' }, ...RATE_HEADERS } } : {}),
      ...(status === 405 ? { headers: { Allow: { schema: { type: 'string' } } } } : {}),
      content: { 'application/json': { schema: errorSchema(codes) } },
    };
  }
  return out;
}

function operation(e: Endpoint): Json {
  const params = parameters(e);
  return {
    operationId: e.operationId,
    tags: [e.tag],
    summary: e.summary,
    description: e.writes ? `${e.description}\n\nA write: read-only keys get 403 \`insufficient_scope\`.` : e.description,
    security: SECURITY[e.auth],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(e.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: ref(e.body.name), example: e.body.example } } } }
      : {}),
    responses: responses(e),
  };
}

/** The outbound webhook, as an OpenAPI 3.1 `webhooks` entry. */
function eventWebhook(): Json {
  const header = (name: string, description: string, example: string): Json => ({
    name,
    in: 'header',
    required: true,
    description,
    schema: { type: 'string' },
    example,
  });
  return {
    post: {
      operationId: 'eventWebhook',
      tags: ['Webhooks'],
      summary: 'An event, POSTed to your webhook URL',
      description:
        'Signed per Standard Webhooks, asymmetric scheme v1a: Ed25519 over `{webhook-id}.{webhook-timestamp}.{raw body}`, verified with the key from `GET /api/public/webhooks/public-key`.',
      security: [],
      parameters: [
        header('webhook-id', 'Delivery id, the same on every retry: deduplicate on it.', 'msg_d3f6g9h2j5k8l1m'),
        header('webhook-timestamp', 'Unix seconds of this attempt.', '1738324800'),
        header('webhook-signature', '`v1a,` and the base64 Ed25519 signature; several may be space-separated.', 'v1a,K5Zc...=='),
      ],
      requestBody: { required: true, content: { 'application/json': { schema: ref('WebhookPayload') } } },
      responses: {
        '2XX': { description: 'Delivered.' },
        '410': { description: 'Gone: the webhook is disabled until it is set again.' },
        default: { description: 'Anything else (and timeouts, redirects) is retried later.' },
      },
    },
  };
}

/** The guide sections as Markdown, for `info.description`. */
export function guideMarkdown(sections: Section[], baseUrl: string): string {
  const out: string[] = [];
  for (const section of sections) {
    out.push(`## ${section.title}`);
    for (const b of section.blocks) {
      switch (b.kind) {
        case 'text':
          out.push(b.text);
          break;
        case 'code':
          out.push('```\n' + b.text + '\n```');
          break;
        case 'list':
          out.push(b.items.map((i) => `- ${i}`).join('\n'));
          break;
        case 'steps':
          out.push(b.items.map((i, n) => `${n + 1}. ${i}`).join('\n'));
          break;
        case 'table': {
          // GFM: a | inside a cell (even in a code span) must be escaped.
          const cell = (text: string, mono: boolean | undefined) => (mono ? `\`${text.replaceAll('|', '\\|')}\`` : text.replaceAll('|', '\\|'));
          const rows = b.rows.map((r) => `| ${r.map((c, i) => cell(c, b.columns[i]?.mono)).join(' | ')} |`);
          out.push([`| ${b.columns.map((c) => c.title).join(' | ')} |`, `|${b.columns.map(() => '---').join('|')}|`, ...rows].join('\n'));
          break;
        }
        case 'request':
          out.push(`**${b.title}**\n\n\`\`\`sh\n${curlCommand(ENDPOINTS.find((e) => e.operationId === b.endpoint) as Endpoint, baseUrl, { withBody: b.withBody !== false })}\n\`\`\``);
          break;
        case 'endpoint-index':
          out.push(
            ['| Method | Path | Auth | Summary |', '|---|---|---|---|', ...ENDPOINTS.map((e) => `| ${e.method.toUpperCase()} | \`${e.path}\` | ${e.auth} | ${e.summary} |`)].join('\n'),
          );
          break;
        case 'errors':
          out.push(['| Status | Code | Meaning |', '|---|---|---|', ...ERRORS.map((x) => `| ${x.statuses.join(', ')} | \`${x.code}\` | ${x.meaning} |`)].join('\n'));
          break;
      }
    }
  }
  return out.join('\n\n');
}

export function openApiDocument(target: OpenApiTarget): Json {
  const paths: Record<string, Json> = {};
  for (const e of ENDPOINTS) paths[e.path] = { ...paths[e.path], [e.method]: operation(e) };
  if (target.mounts) Object.assign(paths, publicPaths(target.mounts));
  const responseSchemas = toSchemas(new Map(Object.entries(RESPONSES)), 'output');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Paywire machine-payments API',
      version: pkg.version,
      summary: 'Sign machines up, sell time on them for Lightning payments, and hear about it by signed webhook.',
      description: guideMarkdown(guideSections(target.settings), target.settings.baseUrl),
    },
    servers: [{ url: target.serverUrl, description: 'This server' }],
    security: [{ bearerAuth: [] }],
    tags: target.mounts ? [...TAGS, ...PUBLIC_TAGS] : TAGS,
    paths,
    webhooks: { event: eventWebhook() },
    components: {
      schemas: { ...responseSchemas, ...requestSchemas() },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'lib_ API key or session token',
          description: 'An API key (`lib_` + 64 hex digits) or a session token from `POST /api/v1/auth/exchange`.',
        },
        adminAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'admin token',
          description: 'The server\u2019s admin token (`ADMIN_TOKEN`, or the one printed on first start). Not an API key.',
        },
      },
      headers: {
        RateLimitLimit: { description: 'Requests allowed per window for this key (or IP, on signup).', schema: { type: 'integer' } },
        RateLimitRemaining: { description: 'Requests left in the current window.', schema: { type: 'integer' } },
        RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
      },
    },
  };
}
