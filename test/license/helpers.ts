/** A bridge with the license server ready for tests: admin calls, a product, issuing and validating over HTTP. */
import { ADMIN_TOKEN, startBridge, type ApiResponse, type TestBridge } from '../helpers/bridge.js';

export { ADMIN_TOKEN };

export interface LicenseBridge extends TestBridge {
  admin<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  product(slug: string, extra?: Record<string, unknown>): Promise<any>;
  issue(slug: string, extra?: Record<string, unknown>): Promise<any>;
  validate(body: unknown): Promise<any>;
}

export async function startLicenseBridge(overrides: Record<string, unknown> = {}, options: Parameters<typeof startBridge>[1] = {}): Promise<LicenseBridge> {
  const t = await startBridge({ LICENSE_VALIDATE_PER_MINUTE: 0, MQTT_ENABLED: false, ...overrides }, options);
  const admin = <T = any>(method: string, path: string, body?: unknown) =>
    t.request<T>(method, `/license${path}`, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });
  return Object.assign(t, {
    admin,
    async product(slug: string, extra: Record<string, unknown> = {}) {
      const res = await admin('POST', '/v1/admin/products', { slug, name: `Product ${slug}`, price_sats: 50_000, ...extra });
      if (res.status !== 201) throw new Error(`product: ${res.status} ${res.text}`);
      return res.body;
    },
    async issue(slug: string, extra: Record<string, unknown> = {}) {
      const res = await admin('POST', '/v1/admin/licenses', { product_slug: slug, ...extra });
      if (res.status !== 201) throw new Error(`issue: ${res.status} ${res.text}`);
      return res.body;
    },
    async validate(body: unknown) {
      const res = await t.request('POST', '/license/v1/validate', { body });
      if (res.status !== 200) throw new Error(`validate: ${res.status} ${res.text}`);
      return res.body;
    },
  });
}
