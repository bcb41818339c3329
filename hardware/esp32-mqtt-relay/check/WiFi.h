/* Host stand-in for WiFi.h (Arduino-ESP32 2.0.x): declarations only. */
#pragma once
#include "Arduino.h"
typedef enum { WL_IDLE_STATUS = 0, WL_CONNECTED = 3 } wl_status_t;
typedef enum { WIFI_STA = 1 } wifi_mode_t;
struct WiFiClass {
  bool mode(wifi_mode_t);
  int begin(const char* ssid, const char* passphrase);
  wl_status_t status();
};
extern WiFiClass WiFi;
class WiFiClient : public Client {};
