/* Host stand-in for tzapu WiFiManager 2.0.17: declarations only. */
#pragma once
class WiFiManager {
 public:
  void setConfigPortalTimeout(unsigned long seconds);
  bool autoConnect(const char* apName);
};
