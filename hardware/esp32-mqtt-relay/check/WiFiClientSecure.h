/* Host stand-in for WiFiClientSecure.h (Arduino-ESP32 2.0.x): declarations only. */
#pragma once
#include "WiFi.h"
class WiFiClientSecure : public WiFiClient {
 public:
  void setCACert(const char* root_ca);
};
