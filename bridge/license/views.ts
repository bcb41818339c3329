/** How products and licenses look on the wire (keysat field names). */
import type { LicenseRecord, MachineRecord, ProductRecord } from './types.js';

export function productView(p: ProductRecord): Record<string, unknown> {
  return {
    product_id: p.product_id,
    slug: p.slug,
    name: p.name,
    description: p.description,
    price_sats: p.price_sats,
    metadata: p.metadata,
    active: p.active,
    created_at: p.created,
    updated_at: p.updated,
  };
}

export function licenseView(l: LicenseRecord, key: string): Record<string, unknown> {
  return {
    license_id: l.license_id,
    product_id: l.product_id,
    license_key: key,
    issued_at: l.issued_at,
    expires_at: l.expires_at,
    trial: l.trial,
    entitlements: l.entitlements,
    max_machines: l.max_machines,
    fingerprint_bound: l.fingerprint_hash !== null,
    note: l.note,
    status: l.status,
    status_reason: l.status_reason,
    status_changed_at: l.status_changed_at,
    invoice_id: l.invoice_id,
  };
}

export function machineView(m: MachineRecord): Record<string, unknown> {
  return { fingerprint: m.fingerprint, activated_at: m.activated_at, last_seen: m.last_seen };
}
