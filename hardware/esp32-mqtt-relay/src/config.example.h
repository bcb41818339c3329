/**
 * Copy to config.h (git-ignored) and fill in. Everything secret stays out of git.
 * WiFi: leave PW_WIFI_SSID undefined to use the captive setup page instead ("Paywire-Setup" access
 * point, http://192.168.4.1), which stores the network in flash.
 */
#pragma once

// #define PW_WIFI_SSID "my-network"
// #define PW_WIFI_PASSWORD "secret"

// The bridge's broker and the device credential (POST /api/v1/assets/{id}/device-credentials).
#define PW_MQTT_HOST "pay.example.com"
#define PW_MQTT_PORT 1883
#define PW_MQTT_USERNAME "dev_c8v4b7n2m5x9z3q"
#define PW_MQTT_PASSWORD "dpw_..."
// The topic segments: paywire/<PW_ACCOUNT>/<PW_ASSET>/... (the response's mqtt.topic_prefix).
#define PW_ACCOUNT "u1a2b3c4d5e6f7g"
#define PW_ASSET "a1b2c3d4e5f6g7h"

// TLS (optional): 1 to connect with TLS, checking the broker against this CA (PEM).
#define PW_MQTT_TLS 0
// #define PW_MQTT_CA "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"

// The asset's payment link, uppercase LNURL (GET /api/v1/assets/{id}/payment-link: lnurl): shown as a QR.
#define PW_LNURL "LNURL1DP68GURN8GHJ7..."

// The relay: GPIO and the level that switches it on (most relay modules: HIGH; some are active-low).
#define PW_RELAY_PIN 26
#define PW_RELAY_ON HIGH
// Pause between queued runs, so the machine sees separate pulses.
#define PW_RELAY_GAP_MS 500

// Optional offline license check (keysat LIC1- key, the license server's Ed25519 public key, PEM).
// #define PW_LICENSE_KEY "LIC1-..."
// #define PW_LICENSE_PUBLIC_KEY "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n"
