/**
 * parseFacilitatorRequest: the seed's v1 bodies (payload as object or base64, the whole payload as base64), v2
 * bodies, and malformed ones refused with the seed's codes — INVALID_REQUEST for the body and requirements,
 * INVALID_PAYLOAD for a payload that cannot be decoded. Also the X402_NETWORKS setting.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../bridge/config.js';
import { parseFacilitatorRequest } from '../../../bridge/x402/wire.js';

const SIG = `0x${'1b'.repeat(65)}`;
const AUTH = {
  from: '0x857b06519E91e3A54538791bDbb0E22373e36b66',
  to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  value: '10000',
  validAfter: '1740672089',
  validBefore: '1740672154',
  nonce: `0x${'f3'.repeat(32)}`,
};
const PAYLOAD = { signature: SIG, authorization: AUTH };
const REQ_V1 = {
  scheme: 'exact',
  network: 'base-sepolia',
  maxAmountRequired: '1000000',
  resource: '/api/protected',
  description: 'Access to protected endpoint',
  mimeType: 'application/json',
  payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  maxTimeoutSeconds: 60,
  asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
  x402Version: 1,
};
const REQ_V2 = {
  scheme: 'exact',
  network: 'eip155:84532',
  amount: '10000',
  asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
  payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  maxTimeoutSeconds: 60,
  extra: { name: 'USDC', version: '2' },
};
const v1 = (payload: unknown = PAYLOAD, extra: Record<string, unknown> = {}) => ({
  paymentPayload: { x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload },
  paymentRequirements: REQ_V1,
  ...extra,
});
const v2 = (over: Record<string, unknown> = {}) => ({
  x402Version: 2,
  paymentPayload: { x402Version: 2, resource: { url: 'https://api.example.com/premium-data' }, accepted: REQ_V2, payload: PAYLOAD, ...over },
  paymentRequirements: REQ_V2,
});
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

describe('parseFacilitatorRequest', () => {
  it('reads the seed’s v1 body, with the payload as an object, as base64, or inside a base64 X-PAYMENT payload', () => {
    const expected = { x402Version: 1, paymentPayload: { x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: PAYLOAD } };
    expect(parseFacilitatorRequest(v1())).toMatchObject(expected);
    expect(parseFacilitatorRequest(v1(b64(PAYLOAD)))).toMatchObject(expected);
    expect(parseFacilitatorRequest(v1(b64({ x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: PAYLOAD })))).toMatchObject(expected);
    expect(parseFacilitatorRequest(v1(PAYLOAD, { x402Version: 1 }))).toMatchObject(expected);
    expect(parseFacilitatorRequest({ ...v1(), paymentPayload: b64(v1().paymentPayload) })).toMatchObject(expected);
    // Numbers where strings are due are taken (some clients send them).
    expect(parseFacilitatorRequest(v1({ signature: SIG, authorization: { ...AUTH, validAfter: 0, validBefore: 1740672154 } }))).toMatchObject({
      paymentPayload: { payload: { authorization: { validAfter: '0', validBefore: '1740672154' } } },
    });
  });

  it('reads a v2 body (x402 v2 §7.1)', () => {
    expect(parseFacilitatorRequest(v2())).toEqual({
      x402Version: 2,
      paymentPayload: { x402Version: 2, resource: { url: 'https://api.example.com/premium-data' }, accepted: REQ_V2, payload: PAYLOAD },
      paymentRequirements: REQ_V2,
    });
  });

  const requestProblems: [string, unknown][] = [
    ['not an object', []],
    ['null', null],
    ['a string', 'x'],
    ['no paymentPayload', { paymentRequirements: REQ_V1 }],
    ['no paymentRequirements', { paymentPayload: v1().paymentPayload }],
    ['paymentRequirements an array', { ...v1(), paymentRequirements: [] }],
    ['version 3', { ...v1(), paymentPayload: { ...v1().paymentPayload, x402Version: 3 } }],
    ['version as a string', { ...v1(), paymentPayload: { ...v1().paymentPayload, x402Version: '1' } }],
    ['versions that differ', v1(PAYLOAD, { x402Version: 2 })],
    ['no scheme', { ...v1(), paymentPayload: { x402Version: 1, network: 'base-sepolia', payload: PAYLOAD } }],
    ['requirements without payTo', { ...v1(), paymentRequirements: { ...REQ_V1, payTo: undefined } }],
    ['requirements with a bad payTo', { ...v1(), paymentRequirements: { ...REQ_V1, payTo: '0xMerchantAddress' } }],
    ['requirements with a negative amount', { ...v1(), paymentRequirements: { ...REQ_V1, maxAmountRequired: '-1' } }],
    ['requirements with an amount above uint256', { ...v1(), paymentRequirements: { ...REQ_V1, maxAmountRequired: '9'.repeat(78) } }],
    ['requirements with a fractional timeout', { ...v1(), paymentRequirements: { ...REQ_V1, maxTimeoutSeconds: 1.5 } }],
    ['v1 requirements in a v2 body', { ...v2(), paymentRequirements: REQ_V1 }],
    ['v2 requirements without amount', { ...v2(), paymentRequirements: { ...REQ_V2, amount: undefined } }],
  ];
  it.each(requestProblems)('refuses a body with %s: INVALID_REQUEST', (_, body) => {
    expect(parseFacilitatorRequest(body)).toMatchObject({ code: 'INVALID_REQUEST', details: expect.any(String) });
  });

  const payloadProblems: [string, unknown][] = [
    ['a payload that is not base64', v1('not base64!')],
    ['a payload that is base64 but not JSON', v1(Buffer.from('hello').toString('base64'))],
    ['a payload without a signature', v1({ authorization: AUTH })],
    ['a signature that is not hex', v1({ signature: '0xzz', authorization: AUTH })],
    ['a signature of odd length', v1({ signature: '0x123', authorization: AUTH })],
    ['a short nonce', v1({ signature: SIG, authorization: { ...AUTH, nonce: '0x1234' } })],
    ['a value that is not a number', v1({ signature: SIG, authorization: { ...AUTH, value: '1e6' } })],
    ['a negative validBefore', v1({ signature: SIG, authorization: { ...AUTH, validBefore: -1 } })],
    ['a from that is not an address', v1({ signature: SIG, authorization: { ...AUTH, from: 'alice' } })],
    ['a paymentPayload string that is not base64 JSON', { ...v1(), paymentPayload: 'nope' }],
    ['a v2 payload without accepted', v2({ accepted: undefined })],
    ['a v2 payload with a bad resource', v2({ resource: { url: 5 } })],
    ['a v2 exact payload without authorization', v2({ payload: { signature: SIG } })],
    ['a signature of 20 KB', v1({ signature: `0x${'ab'.repeat(10_000)}`, authorization: AUTH })],
  ];
  it.each(payloadProblems)('refuses %s: INVALID_PAYLOAD', (_, body) => {
    expect(parseFacilitatorRequest(body)).toMatchObject({ code: 'INVALID_PAYLOAD', details: expect.any(String) });
  });

  it('keeps another scheme’s v2 payload as an object (verify refuses the scheme)', () => {
    const body = v2({ accepted: { ...REQ_V2, scheme: 'upto' }, payload: { anything: 1 } });
    body.paymentRequirements = { ...REQ_V2, scheme: 'upto' };
    expect(parseFacilitatorRequest(body)).toMatchObject({ x402Version: 2, paymentPayload: { payload: { anything: 1 } } });
  });
});

describe('X402_NETWORKS', () => {
  const network = { network: 'base-sepolia', chainId: 84532, rpcUrl: 'https://sepolia.base.org', feePayerKeyEnv: 'X402_FEE_PAYER_KEY' };

  it('defaults to no network', () => {
    expect(loadConfig({ env: {} }).x402Networks).toEqual([]);
  });

  it('reads a JSON array from the environment (the key stays in its own variable)', () => {
    const config = loadConfig({
      env: { X402_NETWORKS: JSON.stringify([{ ...network, assets: [{ address: `0x${'ab'.repeat(20)}`, symbol: 'USDC', decimals: 6 }] }]) },
    });
    expect(config.x402Networks).toEqual([{ ...network, assets: [{ address: `0x${'ab'.repeat(20)}`, symbol: 'USDC', decimals: 6 }] }]);
    expect(JSON.stringify(config)).not.toMatch(/privateKey|0x[0-9a-f]{64}/i);
  });

  it.each([
    ['not JSON', '[{'],
    ['not an array', '{}'],
    ['a CAIP-2 id as name', JSON.stringify([{ ...network, network: 'eip155:84532' }])],
    ['a missing chain id', JSON.stringify([{ ...network, chainId: undefined }])],
    ['a non-http RPC', JSON.stringify([{ ...network, rpcUrl: 'ftp://x' }])],
    ['a key variable name that is not one', JSON.stringify([{ ...network, feePayerKeyEnv: '0x' + 'ab'.repeat(32) }])],
    ['two networks of one chain', JSON.stringify([network, { ...network, network: 'other' }])],
    ['a bad asset address', JSON.stringify([{ ...network, assets: [{ address: 'x', symbol: 'USDC', decimals: 6 }] }])],
  ])('refuses %s', (_, value) => {
    expect(() => loadConfig({ env: { X402_NETWORKS: value } })).toThrow(/X402_NETWORKS/);
  });
});
