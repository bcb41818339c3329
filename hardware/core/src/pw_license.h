/**
 * The offline `LIC1-` license check (keysat key format v1/v2, /work/shared/FACTS.md "Licenses"):
 * `LIC1-<base32 payload>-<base32 signature>`, RFC 4648 alphabet, no padding, case-insensitive; the
 * signature is plain Ed25519 over the raw payload bytes, checked with the license server's public key
 * through libsodium (`crypto_sign_verify_detached`; the ESP32 platform ships libsodium as a component,
 * host tests link Debian's libsodium-dev). Compiled only where <sodium.h> exists (not on the Uno).
 */
#ifndef PW_LICENSE_H
#define PW_LICENSE_H

#include <stddef.h>
#include <stdint.h>

namespace pw {

/** The largest payload accepted: the 83-byte v2 header and its entitlements. */
const size_t LICENSE_PAYLOAD_MAX = 512;
/** The longest key accepted (the payload and a 64-byte signature in base32, and the dashes). */
const size_t LICENSE_KEY_MAX = 5 + (LICENSE_PAYLOAD_MAX * 8 + 4) / 5 + 1 + 103;

enum class LicenseError : uint8_t {
  None,
  Format,       // not `LIC1-<payload>-<signature>`, or too long
  Base32,       // a character outside the alphabet, or non-zero trailing bits
  Length,       // a payload shorter than its version's header, or a signature that is not 64 bytes
  Version,      // a payload version other than 1 or 2
  Signature,    // the Ed25519 signature does not verify with the public key
  Expired,      // v2 expires_at is in the past
  Fingerprint,  // bound to a fingerprint, and this machine's does not match
  Crypto,       // libsodium could not start
};

const char* license_error_name(LicenseError error);

struct License {
  uint8_t version;
  uint8_t flags;
  uint8_t product[16];
  uint8_t license[16];
  uint64_t issued_at;
  /** 0: perpetual (always 0 for v1). */
  uint64_t expires_at;
  uint8_t fingerprint_hash[32];
  uint8_t entitlement_count;
  uint8_t payload[LICENSE_PAYLOAD_MAX];
  size_t payload_len;

  bool fingerprint_bound() const { return (flags & 1) != 0; }
  bool trial() const { return (flags & 2) != 0; }
  /** The i-th entitlement, NUL-terminated into out; false past the last or when it does not fit. */
  bool entitlement(uint8_t index, char* out, size_t cap) const;
  bool has_entitlement(const char* name) const;
};

/** Decode RFC 4648 base32 (no padding, either case). Returns the byte count, or -1. */
long base32_decode(const char* in, size_t len, uint8_t* out, size_t cap);

/** The 32-byte Ed25519 key of a PEM SPKI public key (prefix 302a300506032b6570032100). */
bool public_key_from_pem(const char* pem, size_t len, uint8_t out[32]);

/** Format `xxxxxxxx-xxxx-...` of a 16-byte UUID into out (37 bytes). */
void uuid_string(const uint8_t uuid[16], char out[37]);

/** Decode the key's payload (no signature check): for showing what a key claims. */
LicenseError license_decode(const char* key, size_t len, License& out);

/**
 * The whole offline check: decode, verify the signature with `public_key`, then expiry against
 * `now_unix` (pass 0 when the clock is unknown: expiry is then not checked) and, for a bound license,
 * sha256(`fingerprint`) against the key's hash (pass nullptr to skip the check).
 */
LicenseError license_check(const char* key, size_t len, const uint8_t public_key[32], uint64_t now_unix, const char* fingerprint, License& out);

}  // namespace pw

#endif
