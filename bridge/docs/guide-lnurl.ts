/**
 * The guide section on the payer's side: the public LNURL endpoints a wallet calls to pay a machine
 * (LUD-01/06/09/12/16/17/21). They are another API family (`lightning/family.ts`), not on this
 * router, so they are described here rather than in the endpoint catalogue.
 */
import { payMetadata } from '../lightning/lnurl.js';
import type { Section } from './guide.js';
import { exLink } from './lightning-endpoints.js';
import { EXAMPLE } from './records.js';

const json = (value: unknown) => JSON.stringify(value, null, 2);

const verifyUrl = `${EXAMPLE.publicUrl}/lnurl/verify/${EXAMPLE.paymentHash}`;

const PAY_REQUEST = json({
  tag: 'payRequest',
  callback: `${exLink.url}/callback`,
  minSendable: 1500000,
  maxSendable: 1500000,
  metadata: payMetadata('Coffee machine: 1500 sats'),
  commentAllowed: 140,
});

const INVOICE = json({
  pr: EXAMPLE.pr,
  routes: [],
  successAction: { tag: 'message', message: exLink.success_message },
  verify: verifyUrl,
});

const VERIFY = json({ status: 'OK', settled: true, preimage: EXAMPLE.preimage, pr: EXAMPLE.pr });

export function lnurlSection(): Section {
  return {
    id: 'lnurl',
    title: 'Paying a machine (LNURL)',
    blocks: [
      {
        kind: 'text',
        text: 'Payers never call this API and need no key: their wallet talks to the bridge\u2019s public LNURL endpoints, a separate family with an error shape of its own. Everything starts at an asset\u2019s payment link (`POST /api/v1/assets/{id}/payment-link`): its `lnurl` is the bech32 LNURL (LUD-01) of the link\u2019s `url`, `lnurlp` the same URL with the `lnurlp://` scheme (LUD-17), and `lightning_address` its Lightning address (LUD-16). Print the QR code, or hand out the address.',
      },
      {
        kind: 'text',
        text: 'A link\u2019s `url` is `<PUBLIC_URL><LNURL_PREFIX>/pay/<link_id>` (LNURL_PREFIX is `/lnurl` unless the operator changed it). From there:',
      },
      {
        kind: 'list',
        items: [
          '`GET <url>`: the payRequest (LUD-06): `callback`, `minSendable` and `maxSendable` in millisatoshis, `metadata` (a JSON array of [mime type, content] pairs; every invoice commits to its sha256 as the description hash) and `commentAllowed` (LUD-12).',
          '`GET <url>/callback?amount=<msat>&comment=<text>` (LUD-06, LUD-12): one invoice per call, for `amount` millisatoshis; `comment` is optional. Answers `{pr, routes: [], successAction, verify}`: the BOLT 11 invoice, the message the wallet shows once paid (LUD-09) and this invoice\u2019s verify URL (LUD-21). The payment is listed as pending from then on (`GET /api/v1/assets/{id}/payments`).',
          '`GET <PUBLIC_URL><LNURL_PREFIX>/verify/<payment_hash>` (LUD-21, the `verify` URL of the callback\u2019s answer): `{status: "OK", settled, preimage, pr}`, the preimage once settled and null before. It asks the backend on the spot, so a payer\u2019s app can poll it to learn the machine was paid.',
          '`GET /.well-known/lnurlp/<name>` (LUD-16), always at the root of the host: `<username>.<link name>` is the payRequest of that link, `<username>` alone that of the account\u2019s primary link. Reached this way, the metadata also carries `text/identifier` (the address) and the callback is `<PUBLIC_URL><LNURL_PREFIX>/address/<name>/callback`, with the same parameters and answer.',
          '`GET <url>/qr.png` and `GET <url>/qr.svg`: the link as a QR code to print (the PNG is 512 px). It holds `LIGHTNING:` and the LNURL in uppercase, which every wallet scans.',
        ],
      },
      { kind: 'text', text: 'The payRequest of the coffee machine (fixed price, 1,500 sats):' },
      { kind: 'code', text: `curl "${exLink.url}"\n\n${PAY_REQUEST}` },
      { kind: 'text', text: 'An invoice for it, with a comment, and the verify answer once it is paid:' },
      { kind: 'code', text: `curl "${exLink.url}/callback?amount=1500000&comment=two%20sugars"\n\n${INVOICE}` },
      { kind: 'code', text: `curl "${verifyUrl}"\n\n${VERIFY}` },
      {
        kind: 'text',
        text: 'Fixed or variable pricing. With fixed pricing `minSendable` and `maxSendable` are both price_sats \u00d7 1,000, and every payment runs the machine for duration_ms. With variable pricing the payer chooses any whole number of sats from min_sats to max_sats, and the run time scales with the amount: duration_ms \u00d7 amount \u00f7 price_sats, rounded to the millisecond. An EV charger at 100 sats per 60,000 ms paid 250 sats runs for 150,000 ms. The payment\u2019s `amount_sats` and `duration_ms`, and the data of its `paid` event, carry the result.',
      },
      {
        kind: 'text',
        text: 'When an invoice is paid the payment settles exactly once: it turns settled, verify answers settled with the preimage, and the account gets a `paid` event (source lightning, external_id `lightning:<payment_hash>`, data with payment_id, amount_sats, duration_ms, rail, payment_hash and comment), delivered to its webhook like any other event.',
      },
      {
        kind: 'text',
        text: 'Errors follow LNURL, not this API: `{"status": "ERROR", "reason": "..."}`, with HTTP 400 for an amount that is missing, out of range or not whole sats, a comment that is too long, not allowed or holds control characters, or a repeated parameter; 404 for an unknown link, address or payment hash; 429 when one address asks for more than LNURL_CALLBACKS_PER_MINUTE invoices a minute; 503 when the machine is offline and refuses payments (refuse_when_offline) or the Lightning backend is unavailable: try again later.',
      },
      {
        kind: 'text',
        text: 'The dev backend. A server whose Lightning backend is dev (LIGHTNING_BACKEND=dev, the default) is its own regtest node: its invoices are real, signed BOLT 11 invoices (prefix `lnbcrt`) that no wallet can pay. The server\u2019s admin marks one paid instead, with the admin token (not an API key), and it settles exactly like a real payment:',
      },
      { kind: 'request', title: 'Settle a dev invoice', endpoint: 'devSettle' },
    ],
  };
}
