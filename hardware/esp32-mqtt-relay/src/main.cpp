/**
 * Paywire ESP32 MQTT relay: joins WiFi (config.h or the captive setup page), logs in to the bridge's
 * broker with its device credential (TLS optional), subscribes to its asset's `payment` and
 * `action/set` topics, runs the relay without blocking the loop, publishes `status` (with
 * "offline" as its last will) and vend reports on `action`, drops repeated payment ids, reconnects
 * with exponential backoff, and shows the payment link's QR code on an SSD1306 OLED.
 *
 * Every decision is pw::Machine's (hardware/core/src/pw_machine.h, tested on the host): this file
 * only moves bytes between it, PubSubClient, the relay pin and the display. Not compiled in CI.
 */
#include <Arduino.h>
#include <PubSubClient.h>
#include <U8g2lib.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <WiFiManager.h>
#include <qrcode.h>

#include "config.h"
#include "pw_license.h"
#include "pw_machine.h"

#ifndef PW_MQTT_BUFFER
#define PW_MQTT_BUFFER 1024
#endif

static pw::Machine machine(PW_ACCOUNT, PW_ASSET, PW_RELAY_GAP_MS);
static pw::Backoff backoff(1000, 60000);
#if PW_MQTT_TLS
static WiFiClientSecure net;
#else
static WiFiClient net;
#endif
static PubSubClient mqtt(net);
static U8G2_SSD1306_128X64_NONAME_F_HW_I2C oled(U8G2_R0, U8X8_PIN_NONE);

static char status_topic[160];
static uint32_t next_attempt = 0;
static bool licensed = true;

static void relay(pw::RelayChange change) {
  if (change == pw::RelayChange::On) digitalWrite(PW_RELAY_PIN, PW_RELAY_ON);
  if (change == pw::RelayChange::Off) digitalWrite(PW_RELAY_PIN, PW_RELAY_ON == HIGH ? LOW : HIGH);
}

/** The QR code of the payment link, or "paid" while the relay runs. */
static void draw(bool running, bool online) {
  oled.clearBuffer();
  if (running) {
    oled.setFont(u8g2_font_ncenB14_tr);
    oled.drawStr(20, 38, "Paid!");
  } else {
    // Version 6 (41x41 modules) holds 195 alphanumeric characters at ECC low: an uppercase LNURL fits.
    static uint8_t buffer[256];
    QRCode qr;
    if (qrcode_initText(&qr, buffer, 6, ECC_LOW, PW_LNURL) == 0) {
      for (uint8_t y = 0; y < qr.size; y++)
        for (uint8_t x = 0; x < qr.size; x++)
          if (qrcode_getModule(&qr, x, y)) oled.drawPixel(4 + x, 11 + y);
    }
    oled.setFont(u8g2_font_6x10_tr);
    oled.drawStr(54, 30, online ? "Scan to" : "offline");
    oled.drawStr(54, 42, online ? "pay" : "");
  }
  oled.sendBuffer();
}

static void on_message(char* topic, byte* payload, unsigned int length) {
  // Decisions (run, repeat, refuse) and the reports they make are the core's.
  machine.on_message(topic, strlen(topic), reinterpret_cast<const char*>(payload), length);
}

static bool connect_mqtt() {
  char client_id[40];
  snprintf(client_id, sizeof client_id, "paywire-%08lx", static_cast<unsigned long>(ESP.getEfuseMac()));
  // Last will: "offline", retained, QoS 1. A persistent session (cleanSession=false) gets the
  // payments published while it was away; the bridge also replays unacknowledged ones on subscribe.
  if (!mqtt.connect(client_id, PW_MQTT_USERNAME, PW_MQTT_PASSWORD, status_topic, 1, true, pw::STATUS_OFFLINE, false)) return false;
  char topic[160];
  for (uint8_t i = 0; machine.subscription(i, topic, sizeof topic); i++) mqtt.subscribe(topic, 1);
  mqtt.publish(status_topic, pw::STATUS_ONLINE, true);
  return true;
}

static void check_license() {
#if defined(PW_LICENSE_KEY) && defined(PW_LICENSE_PUBLIC_KEY) && __has_include(<sodium.h>)
  uint8_t key[32];
  pw::License license;
  licensed = pw::public_key_from_pem(PW_LICENSE_PUBLIC_KEY, strlen(PW_LICENSE_PUBLIC_KEY), key) &&
             pw::license_check(PW_LICENSE_KEY, strlen(PW_LICENSE_KEY), key, 0, nullptr, license) == pw::LicenseError::None;
  Serial.printf("license: %s\n", licensed ? "valid" : "INVALID");
#endif
}

void setup() {
  Serial.begin(115200);
  pinMode(PW_RELAY_PIN, OUTPUT);
  relay(pw::RelayChange::Off);
  oled.begin();
  if (!machine.valid()) {
    Serial.println("PW_ACCOUNT / PW_ASSET are not valid topic segments");
    for (;;) delay(1000);
  }
  machine.status_topic(status_topic, sizeof status_topic);
  check_license();
  WiFi.mode(WIFI_STA);
#ifdef PW_WIFI_SSID
  WiFi.begin(PW_WIFI_SSID, PW_WIFI_PASSWORD);
#else
  WiFiManager manager;
  manager.setConfigPortalTimeout(300);
  if (!manager.autoConnect("Paywire-Setup")) ESP.restart();
#endif
#if PW_MQTT_TLS
#ifdef PW_MQTT_CA
  net.setCACert(PW_MQTT_CA);
#else
#error "PW_MQTT_TLS needs PW_MQTT_CA"
#endif
#endif
  mqtt.setServer(PW_MQTT_HOST, PW_MQTT_PORT);
  mqtt.setBufferSize(PW_MQTT_BUFFER);
  mqtt.setKeepAlive(30);
  mqtt.setSocketTimeout(5);
  mqtt.setCallback(on_message);
  draw(false, false);
}

void loop() {
  uint32_t now = millis();
  static bool was_online = false;
  static bool was_running = false;
  bool online = WiFi.status() == WL_CONNECTED && mqtt.connected();
  if (online) {
    mqtt.loop();
  } else if (WiFi.status() == WL_CONNECTED && static_cast<int32_t>(now - next_attempt) >= 0) {
    if (connect_mqtt()) {
      backoff.reset();
      online = true;
    } else {
      next_attempt = now + backoff.next(esp_random());
    }
  }
  if (licensed) relay(machine.poll(now));
  // Reports (vend, repeat, error) go out while connected; they wait in the core otherwise.
  if (online) {
    static char topic[160];
    static char payload[pw::REPORT_MAX];
    while (machine.reports_waiting() > 0 && machine.next_report(topic, sizeof topic, payload, sizeof payload)) mqtt.publish(topic, payload);
  }
  bool running = machine.relay_on();
  if (running != was_running || online != was_online) draw(running, online);
  was_running = running;
  was_online = online;
}
