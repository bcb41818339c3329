/**
 * Resources: the protected URLs merchants register with the payment methods they accept. Anyone may
 * list them; only their owner may change one (another user's is 403 FORBIDDEN). A user holds at most
 * X402_MAX_RESOURCES_PER_USER.
 */
import { AppError } from '../errors.js';
import type { Page, ResourceRecord, X402Store, X402UserRecord } from './store.js';

export interface ResourceInput {
  resource: string;
  type: string;
  x402Version: 1 | 2;
  accepts: Record<string, unknown>[];
  metadata: Record<string, unknown>;
}

export class ResourcesService {
  private readonly store: X402Store;
  private readonly maxPerUser: number;

  constructor(store: X402Store, maxPerUser: number) {
    this.store = store;
    this.maxPerUser = maxPerUser;
  }

  async create(user: X402UserRecord, input: ResourceInput): Promise<ResourceRecord> {
    const now = new Date().toISOString();
    const created = await this.store.createResource(
      {
        user_id: user.id,
        resource: input.resource,
        type: input.type,
        x402_version: input.x402Version,
        accepts: input.accepts,
        metadata: input.metadata,
        created: now,
        updated: now,
      },
      this.maxPerUser,
    );
    if (!created) throw new AppError(409, 'CONFLICT', `This user already registered ${this.maxPerUser} resources, the most allowed`);
    return created;
  }

  async update(user: X402UserRecord, id: number, input: ResourceInput): Promise<ResourceRecord> {
    const existing = await this.store.getResource(id);
    if (!existing) throw new AppError(404, 'NOT_FOUND', `No resource ${id}`);
    if (existing.user_id !== user.id) throw new AppError(403, 'FORBIDDEN', `Resource ${id} belongs to another user`);
    const updated: ResourceRecord = {
      ...existing,
      resource: input.resource,
      type: input.type,
      x402_version: input.x402Version,
      accepts: input.accepts,
      metadata: input.metadata,
      updated: new Date().toISOString(),
    };
    await this.store.putResource(updated);
    return updated;
  }

  list(userId: number | undefined, page: Page): Promise<ResourceRecord[]> {
    return this.store.listResources(userId, page);
  }
}

/** A resource on the wire (its owner is not shown: the public list names no one). */
export function resourceView(r: ResourceRecord): Record<string, unknown> {
  return {
    id: r.id,
    resource: r.resource,
    type: r.type,
    x402Version: r.x402_version,
    accepts: r.accepts,
    metadata: r.metadata,
    createdAt: r.created,
    lastUpdated: r.updated,
  };
}
