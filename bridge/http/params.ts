/**
 * What a request carries, validated at the edge: its JSON body and query against a zod schema, the
 * ids in its path, and the opaque cursors of paged lists.
 */
import type { Context } from 'koa';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import { singleValuedQuery, validate } from './validate.js';

export function body<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  return validate(schema, (ctx.request as { body?: unknown }).body ?? {}, 'body');
}

export function query<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  return validate(schema, singleValuedQuery(ctx.query), 'query');
}

/** Path parameters are ids we issued: anything else cannot name a record. */
export function idParam(ctx: Context, name: string): string {
  const value = (ctx as Context & { params: Record<string, string> }).params[name] ?? '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new AppError(400, 'invalid_body', `Invalid ${name}: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

export function encodeCursor(seq: number | null): string | null {
  return seq === null ? null : Buffer.from(`s${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^s[1-9]\d{0,15}$/.test(text)) throw new AppError(400, 'invalid_body', 'Invalid query: cursor is not one this API issued');
  return Number(text.slice(1));
}
