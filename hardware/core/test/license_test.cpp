/** Tests of pw_license: the keysat vectors (/work/shared/vectors, copied as data), tampering, expiry, fingerprints. */
#include "../src/pw_license.h"

#include <sodium.h>

#include <string>

#include "check.h"

using namespace pw;

// keysat-license-vectors.json (keysat-xyz/keysat-client-ts tests/vector.json, MIT): data, not code.
static const char PEM[] = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";
static const char V1[] =
    "LIC1-AEAW6RVE6YGS6SRIW2VD5D57N4UPAEIRCEISEIRTGNCEIVKVKVKVKVIAAAAAAZKT6EANGRDB75RRODPGGO22UJISZYXBLLASBMODEWWNVWTHYAXFSS5DWPI-"
    "FV56FI7ZTB5GIFQHIPQ35QVVE5AO5FQGVQS45UJ5F632MLXS7VHMHYVLZWGE64FJOEXD2PVIFNE5XGRMTNOUOVEKDTW736743W25MAY";
static const char V2[] =
    "LIC1-AIBW6RVE6YGS6SRIW2VD5D57N4UPBKVKVKVLXO6MZTO533XO53XO53QAAAAAAZKT6EAAAAAAABYT7MYA2NCGD73DC4G6MM5VVISRFTROCWWBECY4GJNM3LNGPQBOLFF2HM6QEA3QOJXQY3LVNR2GSLLEMV3GSY3F-"
    "QPSJIDYL6Y5TFCKXQ2SN43EDJIZIRJZCEROM2I4MJHODT6KO4KDPW6AJ3HMYJERYPD34CF2Z46PXPYFKSRZS7BDZKVKWE57UBJSTEBI";
static const char V2_PERPETUAL[] =
    "LIC1-AIAG6RVE6YGS6SRIW2VD5D57N4UPBKVKVKVLXO6MZTO533XO53XO53QAAAAAAZKT6EAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-"
    "E4IT25ES5NBBQAXVAMZPLBDB5P2ILZL4RGKYUWEWLME5ZVGM7HGBG5CP3XHWBQ5FCYPEC6YGKBHCTQ7M7RZP7OR7NAYAMNAJAWW4QDQ";
static const char FINGERPRINT[] = "test-machine-fingerprint";
static const char FP_HASH[] = "d34461ff63170de633b5aa2512ce2e15ac120b1c325acdada67c02e594ba3b3d";
static const uint64_t NOW = 1800000000;  // 2027: after issue, before the v2 vector's expiry (1900000000)

static uint8_t key[32];

static std::string hex(const uint8_t* p, size_t n) {
  static const char H[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s += H[p[i] >> 4];
    s += H[p[i] & 0xF];
  }
  return s;
}

static LicenseError check(const std::string& k, License& out, uint64_t now = NOW, const char* fp = FINGERPRINT) {
  return license_check(k.c_str(), k.size(), key, now, fp, out);
}

static void reads_the_public_key() {
  CHECK(public_key_from_pem(PEM, strlen(PEM), key));
  CHECK(hex(key, 4) == "03a107bf");
  uint8_t other[32];
  std::string pem(PEM);
  CHECK(!public_key_from_pem(pem.c_str(), 10, other));
  CHECK(!public_key_from_pem(nullptr, 0, other));
  std::string wrong_prefix = pem;
  wrong_prefix[27] = 'N';  // "MCow" -> "NCow": the DER prefix changes
  CHECK(!public_key_from_pem(wrong_prefix.c_str(), wrong_prefix.size(), other));
  std::string bad_char = pem;
  bad_char[30] = '!';
  CHECK(!public_key_from_pem(bad_char.c_str(), bad_char.size(), other));
  std::string no_end = pem.substr(0, pem.find("-----END"));
  CHECK(!public_key_from_pem(no_end.c_str(), no_end.size(), other));
  std::string rsa = "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n";
  CHECK(!public_key_from_pem(rsa.c_str(), rsa.size(), other));
  std::string after_pad = pem;
  after_pad.replace(pem.find("=\n"), 1, "=A");
  CHECK(!public_key_from_pem(after_pad.c_str(), after_pad.size(), other));
}

static void validates_the_v1_vector() {
  License l;
  CHECK(check(V1, l) == LicenseError::None);
  CHECK(l.version == 1 && l.flags == 1 && l.fingerprint_bound() && !l.trial());
  char uuid[37];
  uuid_string(l.product, uuid);
  CHECK_STR(uuid, "6f46a4f6-0d2f-4a28-b6aa-3e8fbf6f28f0");
  uuid_string(l.license, uuid);
  CHECK_STR(uuid, "11111111-2222-3333-4444-555555555555");
  CHECK(l.issued_at == 1700000000 && l.expires_at == 0 && l.entitlement_count == 0);
  CHECK(hex(l.fingerprint_hash, 32) == FP_HASH);
  char e[8];
  CHECK(!l.entitlement(0, e, sizeof e) && !l.has_entitlement("pro"));
  // v1 has no expiry: any clock passes.
  CHECK(check(V1, l, 4000000000ULL) == LicenseError::None);
}

static void validates_the_v2_vectors() {
  License l;
  CHECK(check(V2, l) == LicenseError::None);
  CHECK(l.version == 2 && l.flags == 3 && l.fingerprint_bound() && l.trial());
  char uuid[37];
  uuid_string(l.license, uuid);
  CHECK_STR(uuid, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  CHECK(l.issued_at == 1700000000 && l.expires_at == 1900000000);
  CHECK(l.entitlement_count == 2);
  char e[16];
  CHECK(l.entitlement(0, e, sizeof e) && strcmp(e, "pro") == 0);
  CHECK(l.entitlement(1, e, sizeof e) && strcmp(e, "multi-device") == 0);
  CHECK(!l.entitlement(2, e, sizeof e));
  CHECK(!l.entitlement(1, e, 5));  // does not fit
  CHECK(l.has_entitlement("pro") && l.has_entitlement("multi-device") && !l.has_entitlement("pr") && !l.has_entitlement(nullptr));
  CHECK(hex(l.fingerprint_hash, 32) == FP_HASH);

  CHECK(check(V2_PERPETUAL, l, 4000000000ULL, "any machine") == LicenseError::None);
  CHECK(l.version == 2 && l.flags == 0 && !l.fingerprint_bound() && !l.trial() && l.expires_at == 0 && l.entitlement_count == 0);
  CHECK(hex(l.fingerprint_hash, 32) == std::string(64, '0'));
}

static void keys_decode_case_insensitively() {
  License l;
  std::string lower(V2);
  for (char& c : lower) c = static_cast<char>(tolower(c));
  CHECK(check(lower, l) == LicenseError::None);
}

static void expiry_and_fingerprint() {
  License l;
  CHECK(check(V2, l, 1900000000ULL) == LicenseError::Expired);
  CHECK(check(V2, l, 1899999999ULL) == LicenseError::None);
  CHECK(check(V2, l, 0) == LicenseError::None);  // clock unknown: expiry not checked
  CHECK(check(V2, l, NOW, "another-machine") == LicenseError::Fingerprint);
  CHECK(check(V1, l, NOW, "another-machine") == LicenseError::Fingerprint);
  CHECK(check(V1, l, NOW, nullptr) == LicenseError::None);
}

static void refuses_tampered_keys() {
  License l;
  std::string k(V1);
  size_t dash = k.find('-', 5);
  // One payload character changed: the signature fails (or the base32 tail bits do).
  std::string t = k;
  t[10] = t[10] == 'A' ? 'B' : 'A';
  CHECK(check(t, l) == LicenseError::Signature);
  // One signature character changed.
  t = k;
  t[dash + 3] = t[dash + 3] == 'A' ? 'B' : 'A';
  CHECK(check(t, l) == LicenseError::Signature);
  // Another key's signature.
  std::string other(V2);
  t = k.substr(0, dash) + other.substr(other.find('-', 5));
  CHECK(check(t, l) == LicenseError::Signature);
  // A different public key.
  uint8_t saved[32];
  memcpy(saved, key, 32);
  key[0] ^= 1;
  CHECK(check(V1, l) == LicenseError::Signature);
  memcpy(key, saved, 32);
}

static void refuses_malformed_keys() {
  License l;
  std::string k(V1);
  size_t dash = k.find('-', 5);
  const char* format[] = {"", "LIC1", "LIC1-", "LIC2-AAAA-AAAA", "LIC1AAAA-AAAA", "LIC1-AAAA", "LIC1--AAAA", "LIC1-AAAA-", "LIC1-AA-AA-AA", "KEY1-AAAA-AAAA"};
  for (const char* f : format) CHECK(check(f, l) == LicenseError::Format);
  CHECK(license_check(nullptr, 0, key, NOW, nullptr, l) == LicenseError::Format);
  CHECK(check("LIC1-AA1A-AAAA", l) == LicenseError::Base32);  // "1" is not in the alphabet
  CHECK(check("LIC1-AAAA=-AAAA", l) == LicenseError::Base32);
  CHECK(check("LIC1-AB-AAAA", l) == LicenseError::Base32);    // non-zero trailing bits
  CHECK(check("LIC1-AAA-AAAA", l) == LicenseError::Base32);   // 15 leftover bits: not a whole base32 length
  CHECK(check("LIC1-AA-AAAA", l) == LicenseError::Version);   // version 0
  CHECK(check("LIC1-AE-AAAA", l) == LicenseError::Length);    // version 1, 1 byte
  CHECK(check("LIC1-AM-AAAA", l) == LicenseError::Version);   // version 3
  // v1 with a byte too many, v2 with a truncated entitlement.
  uint8_t payload[LICENSE_PAYLOAD_MAX];
  long n = base32_decode(k.c_str() + 5, dash - 5, payload, sizeof payload);
  CHECK(n == 74);
  CHECK(base32_decode(k.c_str() + 5, dash - 5, payload, 10) == -1);  // output buffer too small
  std::string sig = k.substr(dash);
  CHECK(check("LIC1-" + std::string(120, 'A') + "AE" + sig, l) == LicenseError::Version);
  // The signature must be exactly 64 bytes.
  CHECK(check(k.substr(0, k.size() - 8), l) == LicenseError::Length || check(k.substr(0, k.size() - 8), l) == LicenseError::Base32);
  CHECK(check(k.substr(0, dash) + "-AAAAAAAA", l) == LicenseError::Length);
  // Oversized keys are refused before decoding.
  std::string huge = "LIC1-" + std::string(LICENSE_KEY_MAX, 'A') + "-AAAA";
  CHECK(check(huge, l) == LicenseError::Format);
  std::string big_payload = "LIC1-" + std::string((LICENSE_PAYLOAD_MAX + 8) * 8 / 5, 'A') + "-AAAA";
  CHECK(check(big_payload, l) == LicenseError::Length);
  for (int e = 0; e <= static_cast<int>(LicenseError::Crypto); e++) CHECK(strcmp(license_error_name(static_cast<LicenseError>(e)), "unknown") != 0);
  CHECK_STR(license_error_name(static_cast<LicenseError>(99)), "unknown");
}

static void v2_entitlement_bounds() {
  // Hand-built v2 payloads (unsigned): decode checks the entitlement lengths against the payload.
  uint8_t p[100] = {0};
  p[0] = 2;
  p[82] = 1;  // one entitlement
  p[83] = 3;
  memcpy(p + 84, "pro", 3);
  auto encode = [](const uint8_t* bytes, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
      buffer = (buffer << 8) | bytes[i];
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        out += A[(buffer >> bits) & 31];
      }
    }
    if (bits > 0) out += A[(buffer << (5 - bits)) & 31];
    return out;
  };
  License l;
  std::string k = "LIC1-" + encode(p, 87) + "-AAAA";
  CHECK(license_decode(k.c_str(), k.size(), l) == LicenseError::None && l.has_entitlement("pro"));
  k = "LIC1-" + encode(p, 86) + "-AAAA";  // cut inside the entitlement
  CHECK(license_decode(k.c_str(), k.size(), l) == LicenseError::Length);
  k = "LIC1-" + encode(p, 88) + "-AAAA";  // a trailing byte after the last entitlement
  CHECK(license_decode(k.c_str(), k.size(), l) == LicenseError::Length);
  k = "LIC1-" + encode(p, 80) + "-AAAA";  // shorter than the v2 header
  CHECK(license_decode(k.c_str(), k.size(), l) == LicenseError::Length);
  p[82] = 2;  // claims two, holds one
  k = "LIC1-" + encode(p, 87) + "-AAAA";
  CHECK(license_decode(k.c_str(), k.size(), l) == LicenseError::Length);
  // A signed-looking key whose signature is not 64 bytes after a valid payload.
  p[82] = 1;
  k = "LIC1-" + encode(p, 87) + "-" + encode(p, 10);
  CHECK(license_check(k.c_str(), k.size(), key, NOW, nullptr, l) == LicenseError::Length);
  k = "LIC1-" + encode(p, 87) + "-A1";
  CHECK(license_check(k.c_str(), k.size(), key, NOW, nullptr, l) == LicenseError::Base32);
}

void license_tests() {
  if (sodium_init() < 0) {
    CHECK(false);
    return;
  }
  static const TestCase cases[] = {{"reads the PEM public key", reads_the_public_key},
                                   {"validates the v1 vector", validates_the_v1_vector},
                                   {"validates the v2 vectors", validates_the_v2_vectors},
                                   {"decodes keys case-insensitively", keys_decode_case_insensitively},
                                   {"checks expiry and fingerprint", expiry_and_fingerprint},
                                   {"refuses tampered keys", refuses_tampered_keys},
                                   {"refuses malformed and oversized keys", refuses_malformed_keys},
                                   {"bounds v2 entitlements", v2_entitlement_bounds}};
  run_suite("license", cases, sizeof cases / sizeof cases[0]);
}
