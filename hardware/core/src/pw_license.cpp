/** The offline LIC1- check: base32, the v1/v2 payloads (keysat key format), Ed25519 through libsodium. */
#if defined(__has_include)
#if __has_include(<sodium.h>)
#define PW_HAVE_SODIUM 1
#endif
#endif

#ifdef PW_HAVE_SODIUM
#include "pw_license.h"

#include <sodium.h>
#include <string.h>

namespace pw {

const char* license_error_name(LicenseError error) {
  switch (error) {
    case LicenseError::None: return "none";
    case LicenseError::Format: return "format";
    case LicenseError::Base32: return "base32";
    case LicenseError::Length: return "length";
    case LicenseError::Version: return "version";
    case LicenseError::Signature: return "signature";
    case LicenseError::Expired: return "expired";
    case LicenseError::Fingerprint: return "fingerprint";
    case LicenseError::Crypto: return "crypto";
  }
  return "unknown";
}

static int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

long base32_decode(const char* in, size_t len, uint8_t* out, size_t cap) {
  uint32_t buffer = 0;
  unsigned bits = 0;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    int v = base32_value(in[i]);
    if (v < 0) return -1;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (n >= cap) return -1;
      out[n++] = static_cast<uint8_t>(buffer >> bits);
      buffer &= (1u << bits) - 1;
    }
  }
  // RFC 4648 §3.5: the leftover bits of the last character must be zero, and fewer than 5 of them.
  if (bits >= 5 || buffer != 0) return -1;
  return static_cast<long>(n);
}

static int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool public_key_from_pem(const char* pem, size_t len, uint8_t out[32]) {
  static const char BEGIN[] = "-----BEGIN PUBLIC KEY-----";
  static const char END[] = "-----END PUBLIC KEY-----";
  static const uint8_t PREFIX[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  if (pem == nullptr || len < sizeof BEGIN + sizeof END) return false;
  const char* end = pem + len;
  const char* p = pem;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  if (static_cast<size_t>(end - p) < sizeof BEGIN - 1 || memcmp(p, BEGIN, sizeof BEGIN - 1) != 0) return false;
  p += sizeof BEGIN - 1;
  uint8_t der[48];
  size_t n = 0;
  uint32_t buffer = 0;
  unsigned bits = 0;
  bool padded = false;
  for (; p < end && *p != '-'; p++) {
    char c = *p;
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      padded = true;
      continue;
    }
    int v = base64_value(c);
    if (v < 0 || padded) return false;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n >= sizeof der) return false;
      der[n++] = static_cast<uint8_t>(buffer >> bits);
      buffer &= (1u << bits) - 1;
    }
  }
  if (static_cast<size_t>(end - p) < sizeof END - 1 || memcmp(p, END, sizeof END - 1) != 0) return false;
  if (n != 44 || memcmp(der, PREFIX, sizeof PREFIX) != 0) return false;
  memcpy(out, der + 12, 32);
  return true;
}

void uuid_string(const uint8_t uuid[16], char out[37]) {
  static const char HEX[] = "0123456789abcdef";
  size_t pos = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[pos++] = '-';
    out[pos++] = HEX[uuid[i] >> 4];
    out[pos++] = HEX[uuid[i] & 0xF];
  }
  out[pos] = '\0';
}

static uint64_t be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

/** Split `LIC1-<payload>-<signature>`; offsets into key. */
static LicenseError split(const char* key, size_t len, size_t* payload_end, size_t* sig_start) {
  if (key == nullptr || len < 7 || len > LICENSE_KEY_MAX) return LicenseError::Format;
  if (!((key[0] == 'L' || key[0] == 'l') && (key[1] == 'I' || key[1] == 'i') && (key[2] == 'C' || key[2] == 'c') && key[3] == '1' && key[4] == '-')) {
    return LicenseError::Format;
  }
  const char* dash = static_cast<const char*>(memchr(key + 5, '-', len - 5));
  if (dash == nullptr || dash == key + 5 || dash == key + len - 1) return LicenseError::Format;
  if (memchr(dash + 1, '-', static_cast<size_t>(key + len - dash - 1)) != nullptr) return LicenseError::Format;
  *payload_end = static_cast<size_t>(dash - key);
  *sig_start = *payload_end + 1;
  return LicenseError::None;
}

static LicenseError decode_payload(License& out) {
  const uint8_t* p = out.payload;
  size_t n = out.payload_len;
  if (n < 1) return LicenseError::Length;
  out.version = p[0];
  if (out.version != 1 && out.version != 2) return LicenseError::Version;
  // v1: version, flags, product (16), license (16), issued_at (8), fingerprint hash (32) = 74 bytes.
  // v2: as v1 with expires_at (8) at 42, the hash at 50..81, an entitlement count at 82 = 83 bytes, then entitlements.
  size_t header = out.version == 1 ? 74 : 83;
  if (n < header) return LicenseError::Length;
  out.flags = p[1];
  memcpy(out.product, p + 2, 16);
  memcpy(out.license, p + 18, 16);
  out.issued_at = be64(p + 34);
  if (out.version == 1) {
    if (n != header) return LicenseError::Length;
    out.expires_at = 0;
    memcpy(out.fingerprint_hash, p + 42, 32);
    out.entitlement_count = 0;
    return LicenseError::None;
  }
  out.expires_at = be64(p + 42);
  memcpy(out.fingerprint_hash, p + 50, 32);
  out.entitlement_count = p[82];
  size_t pos = header;
  for (uint8_t i = 0; i < out.entitlement_count; i++) {
    if (pos >= n || pos + 1 + p[pos] > n) return LicenseError::Length;
    pos += 1 + p[pos];
  }
  return pos == n ? LicenseError::None : LicenseError::Length;
}

bool License::entitlement(uint8_t index, char* out, size_t cap) const {
  if (version != 2 || index >= entitlement_count) return false;
  size_t pos = 83;
  for (uint8_t i = 0; i < index; i++) pos += 1 + payload[pos];
  size_t len = payload[pos];
  if (len + 1 > cap) return false;
  memcpy(out, payload + pos + 1, len);
  out[len] = '\0';
  return true;
}

bool License::has_entitlement(const char* name) const {
  if (version != 2 || name == nullptr) return false;
  size_t want = strlen(name);
  size_t pos = 83;
  for (uint8_t i = 0; i < entitlement_count; i++) {
    size_t len = payload[pos];
    if (len == want && memcmp(payload + pos + 1, name, len) == 0) return true;
    pos += 1 + len;
  }
  return false;
}

LicenseError license_decode(const char* key, size_t len, License& out) {
  memset(&out, 0, sizeof out);
  size_t payload_end = 0;
  size_t sig_start = 0;
  LicenseError e = split(key, len, &payload_end, &sig_start);
  if (e != LicenseError::None) return e;
  long n = base32_decode(key + 5, payload_end - 5, out.payload, sizeof out.payload);
  if (n < 0) return payload_end - 5 > (LICENSE_PAYLOAD_MAX * 8 + 4) / 5 ? LicenseError::Length : LicenseError::Base32;
  out.payload_len = static_cast<size_t>(n);
  return decode_payload(out);
}

LicenseError license_check(const char* key, size_t len, const uint8_t public_key[32], uint64_t now_unix, const char* fingerprint, License& out) {
  LicenseError e = license_decode(key, len, out);
  if (e != LicenseError::None) return e;
  size_t payload_end = 0;
  size_t sig_start = 0;
  split(key, len, &payload_end, &sig_start);
  uint8_t signature[65];
  long n = base32_decode(key + sig_start, len - sig_start, signature, sizeof signature);
  if (n < 0) return LicenseError::Base32;
  if (n != 64) return LicenseError::Length;
  if (sodium_init() < 0) return LicenseError::Crypto;
  if (crypto_sign_verify_detached(signature, out.payload, out.payload_len, public_key) != 0) return LicenseError::Signature;
  if (now_unix != 0 && out.expires_at != 0 && now_unix >= out.expires_at) return LicenseError::Expired;
  if (out.fingerprint_bound() && fingerprint != nullptr) {
    uint8_t hash[32];
    crypto_hash_sha256(hash, reinterpret_cast<const uint8_t*>(fingerprint), strlen(fingerprint));
    if (sodium_memcmp(hash, out.fingerprint_hash, 32) != 0) return LicenseError::Fingerprint;
  }
  return LicenseError::None;
}

}  // namespace pw
#endif
