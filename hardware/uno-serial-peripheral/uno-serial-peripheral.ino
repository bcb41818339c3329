/**
 * Paywire serial peripheral for an Arduino Uno: a relay and a Nextion display, driven by the device
 * daemon over USB serial with the Paywire serial protocol v1 (device/PROTOCOL.md). Every protocol
 * decision (framing, CRC, ACK/NAK, repeats, relay timing) is in the core (hardware/core/src), tested
 * on the host; this file only moves bytes and pins.
 *
 * Wiring (hardware/README.md): relay module IN on D7 (HIGH = on), Nextion RX on D11 and TX on D10
 * through SoftwareSerial. The Nextion shows a QR component `qr0` and a text component `t0` on page 0.
 */
#include <SoftwareSerial.h>

#include "pw_relay.h"
#include "pw_serial.h"

static const uint8_t RELAY_PIN = 7;
static const uint8_t DISPLAY_RX_PIN = 10;
static const uint8_t DISPLAY_TX_PIN = 11;
static const long HOST_BAUD = 115200;
// Nextion displays start at 9600 baud; the sketch switches them to 38400 so a 160-character QR goes
// out in ~50 ms (SoftwareSerial blocks interrupts while it sends, and the host waits 250 ms for the ACK).
static const long DISPLAY_BAUD = 38400;

static SoftwareSerial display(DISPLAY_RX_PIN, DISPLAY_TX_PIN);
static pw::Relay<1, 0> relay;

static char qr_text[161];
static char line_text[65];
static bool showing_paid = false;
static uint32_t paid_since = 0;
static uint32_t paid_ms = 0;

/** The relay event to send after the reply: -1 none, 0 off, 1 on. */
static int8_t pending_event = -1;

static void display_end() {
  display.write(0xFF);
  display.write(0xFF);
  display.write(0xFF);
}

/** `<component>.txt="<text>"` with `"` and `\` escaped (Nextion instruction set). */
static void display_text(const char* component, const char* text) {
  display.print(component);
  display.print(F(".txt=\""));
  for (const char* p = text; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\') display.write('\\');
    display.write(*p);
  }
  display.write('"');
  display_end();
}

static void render() {
  if (showing_paid) {
    display_text("qr0", "");
    display_text("t0", "Paid - thank you");
  } else {
    display_text("qr0", qr_text);
    display_text("t0", line_text);
  }
}

static void relay_pin(pw::RelayChange change) {
  if (change == pw::RelayChange::On) {
    digitalWrite(RELAY_PIN, HIGH);
    pending_event = 1;
  } else if (change == pw::RelayChange::Off) {
    digitalWrite(RELAY_PIN, LOW);
    pending_event = 0;
  }
}

static void send_event(const char* name, const char* arg) {
  char frame[pw::FRAME_MAX + 1];
  size_t n = pw::Peripheral::event(frame, sizeof frame, name, arg);
  if (n > 0) Serial.write(reinterpret_cast<const uint8_t*>(frame), n);
}

static void flush_events() {
  if (pending_event < 0) return;
  send_event("RLY", pending_event == 1 ? "1" : "0");
  pending_event = -1;
}

static void execute(void*, const pw::CommandArgs& command) {
  uint32_t now = millis();
  switch (command.command) {
    case pw::Command::Ping:
      break;
    case pw::Command::Qr:
      strncpy(qr_text, command.text, sizeof qr_text - 1);
      showing_paid = false;
      render();
      break;
    case pw::Command::Txt:
      strncpy(line_text, command.text, sizeof line_text - 1);
      line_text[sizeof line_text - 1] = '\0';
      if (!showing_paid) display_text("t0", line_text);
      break;
    case pw::Command::Paid:
      showing_paid = true;
      paid_since = now;
      paid_ms = command.ms;
      render();
      break;
    case pw::Command::Clr:
      qr_text[0] = '\0';
      line_text[0] = '\0';
      showing_paid = false;
      render();
      break;
    case pw::Command::Rly:
      // The relay is on (or off) before the ACK is written: device/PROTOCOL.md.
      relay_pin(relay.set(command.ms, now));
      break;
  }
}

static pw::Peripheral peripheral(execute, nullptr);

void setup() {
  pinMode(RELAY_PIN, OUTPUT);
  digitalWrite(RELAY_PIN, LOW);
  Serial.begin(HOST_BAUD);
  display.begin(9600);
  display.print(F("bauds=38400"));
  display_end();
  display.end();
  display.begin(DISPLAY_BAUD);
  render();
  // After a reset the host re-sends the display state.
  send_event("BOOT", nullptr);
}

void loop() {
  static char reply[pw::FRAME_MAX + 1];
  while (Serial.available() > 0) {
    size_t n = peripheral.push(static_cast<uint8_t>(Serial.read()), reply, sizeof reply);
    if (n > 0) {
      Serial.write(reinterpret_cast<const uint8_t*>(reply), n);
      flush_events();
    }
  }
  uint32_t now = millis();
  relay_pin(relay.poll(now));
  flush_events();
  if (showing_paid && static_cast<uint32_t>(now - paid_since) >= paid_ms) {
    showing_paid = false;
    render();
  }
}
