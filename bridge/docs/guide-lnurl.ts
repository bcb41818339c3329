/**
 * The guide section on the payer's side: the public LNURL endpoints a wallet calls to pay a machine
 * (LUD-01/06/09/12/16/17/21). They are another API family (`lightning/family.ts`), not on this
 * router, so they are described here rather than in the endpoint catalogue. The prose is
 * `prose/lnurl.md`; the examples are made here from the catalogue's example link.
 */
import { payMetadata } from '../lightning/lnurl.js';
import type { Section } from './guide.js';
import { exLink } from './lightning-endpoints.js';
import { proseSection } from './prose.js';
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

/** The section in `prose/lnurl.md`, with the coffee machine's link, invoice and verify answer. */
export function lnurlSection(): Section {
  return proseSection('lnurl', { linkUrl: exLink.url, payRequest: PAY_REQUEST, invoice: INVOICE, verifyUrl, verifyAnswer: VERIFY });
}
