/**
 * Outbound webhook signatures, per the Standard Webhooks specification (asymmetric scheme `v1a`):
 * Ed25519 over `{webhook-id}.{webhook-timestamp}.{body}`, sent as `webhook-signature: v1a,<base64>`.
 * The public key is published (`whpk_` + base64, and as PEM) so receivers verify without a shared secret.
 */
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';

/** DER SubjectPublicKeyInfo prefix of an Ed25519 public key (RFC 8410). */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface PublicKeyInfo {
  algorithm: 'ed25519';
  scheme: 'standard-webhooks-v1a';
  key_id: string;
  public_key: string;
  public_key_hex: string;
  public_key_pem: string;
  signed_content: string;
  headers: string[];
}

export function ed25519PublicKeyPem(raw: Uint8Array): string {
  const b64 = Buffer.concat([SPKI_ED25519_PREFIX, raw]).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END PUBLIC KEY-----\n`;
}

export class WebhookSigner {
  private readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly keyId: string;

  private constructor(seed: Uint8Array, publicKey: Uint8Array) {
    this.seed = seed;
    this.publicKey = publicKey;
    this.keyId = createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
  }

  static async create(seed: Uint8Array): Promise<WebhookSigner> {
    return new WebhookSigner(seed, await ed.getPublicKeyAsync(seed));
  }

  /** The `webhook-signature` header value for one attempt. */
  async sign(messageId: string, timestamp: number, body: string): Promise<string> {
    const content = new TextEncoder().encode(`${messageId}.${timestamp}.${body}`);
    const signature = await ed.signAsync(content, this.seed);
    return `v1a,${Buffer.from(signature).toString('base64')}`;
  }

  info(): PublicKeyInfo {
    return {
      algorithm: 'ed25519',
      scheme: 'standard-webhooks-v1a',
      key_id: this.keyId,
      public_key: `whpk_${Buffer.from(this.publicKey).toString('base64')}`,
      public_key_hex: Buffer.from(this.publicKey).toString('hex'),
      public_key_pem: ed25519PublicKeyPem(this.publicKey),
      signed_content: '{webhook-id}.{webhook-timestamp}.{raw body}',
      headers: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    };
  }
}
